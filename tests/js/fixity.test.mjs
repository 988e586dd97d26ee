// fixity.js: the fixity worker's summary as the detail view says it and as the row's mark.
import test from "node:test";
import assert from "node:assert/strict";
import {fixityMark, fixityText} from "../../scanlog_api/static/fixity.js";

const FLAGGED = {state: "flagged", problemCount: 3, algorithm: "blake2b",
                 problems: [{path: "/d/a.h5", kind: "changed", reason: "size 10 -> 12"}, {path: "/d/b.log", kind: "gone", reason: ""}]};

test("the detail says ok, not yet checked, or each problem and how many more", () => {
  assert.equal(fixityText(null), "checksums: not yet checked");
  assert.equal(fixityText({state: "ok", problemCount: 0, algorithm: "blake2b"}), "checksums: ok (blake2b)");
  assert.equal(fixityText(FLAGGED), "checksums: 3 problems: /d/a.h5 (changed: size 10 -> 12); /d/b.log (gone); and 1 more");
  assert.equal(fixityText({state: "mismatch", problemCount: 1, problems: [{path: "/x", kind: "mismatch", reason: "r"}]}),
               "checksums: 1 problem: /x (mismatch: r)");
});

test("the row's mark: none before a check, a tick, a warning or a cross with the count", () => {
  assert.equal(fixityMark(null), null);
  assert.deepEqual(fixityMark({state: "ok", problemCount: 0}), {text: "✓", state: "ok", title: "checksums: ok"});
  assert.deepEqual(fixityMark({state: "flagged", problemCount: 2}), {text: "⚠ 2", state: "flagged", title: "checksums: flagged, 2 problems"});
  assert.equal(fixityMark({state: "mismatch", problemCount: 1}).text, "✗ 1");
});
