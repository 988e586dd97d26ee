// The page's pure modules stay pure: they import only each other and touch no browser global, so
// node can import and test them (as import-linter keeps the Python pure modules free of I/O).
import test from "node:test";
import assert from "node:assert/strict";
import {readFileSync} from "node:fs";

const PURE = ["format.js", "columns.js", "query.js", "events.js", "publication.js", "conditions.js", "facet-parts.js", "views.js",
              "rule-parts.js", "curve-parts.js", "compare-parts.js", "fixity.js"];
const BROWSER = /\b(document|window|localStorage|sessionStorage|location|history|navigator|fetch|CSS|uPlot)\b/;

for (const name of PURE) {
  test(`${name} imports only pure modules and uses no browser global`, () => {
    const text = readFileSync(new URL(`../../scanlog_api/static/${name}`, import.meta.url), "utf8");
    const code = text.split("\n").filter((l) => !l.trim().startsWith("//")).join("\n");
    for (const [, from] of code.matchAll(/\bfrom\s+["']([^"']+)["']/g)) {
      assert.ok(PURE.includes(from.replace(/^\.\//, "")), `${name} imports ${from}`);
    }
    assert.doesNotMatch(code, /\bimport\s*\(/, `${name} imports at run time`);
    assert.doesNotMatch(code, BROWSER, `${name} uses a browser global`);
  });
}
