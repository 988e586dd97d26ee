// facet-parts.js: the facets' query, labels, and what a click on a value does to the selection.
import test from "node:test";
import assert from "node:assert/strict";
import {readFileSync} from "node:fs";
import {
  MAX_FACET_KEYS, barNarrowing, binLabel, countedNote, facetParams, narrowing, num, valueLabel, withKey,
} from "../../scanlog_api/static/facet-parts.js";
import {EMPTY_FILTER} from "../../scanlog_api/static/query.js";
import {fromWhere} from "../../scanlog_api/static/conditions.js";

test("the query: the filter's selection, the keys with their units at the same positions, the bins", () => {
  const filter = {...EMPTY_FILTER, proposal: "P1", where: ["shutter:eq:open"]};
  const q = facetParams(filter, [{key: "photon_energy", unit: "keV"}, {key: "sample.temperature", unit: ""}], 0);
  assert.equal(q.toString(),
               "proposal=P1&where=shutter%3Aeq%3Aopen&key=photon_energy&key=sample.temperature&unit=keV&unit=&bins=10");
  const many = Array.from({length: 6}, (_, i) => ({key: "k" + i, unit: ""}));
  assert.equal(facetParams(EMPTY_FILTER, many, 0).getAll("key").length, MAX_FACET_KEYS);
});

test("a facet key is added once, and at most the API's bound", () => {
  assert.deepEqual(withKey([], " photon_energy "), {keys: [{key: "photon_energy", unit: ""}]});
  const one = [{key: "a", unit: "K"}];
  assert.deepEqual(withKey(one, "a"), {keys: one});
  assert.deepEqual(withKey(one, ""), {keys: one});
  const full = Array.from({length: MAX_FACET_KEYS}, (_, i) => ({key: "k" + i, unit: ""}));
  assert.match(withKey(full, "z").error, /at most 4/);
});

test("a beamline, proposal or rating sets its filter; a status or text value adds key = value", () => {
  assert.deepEqual(narrowing("beamline", "p01"), {filter: {beamline: "p01"}});
  assert.deepEqual(narrowing("proposal", "20261234"), {filter: {proposal: "20261234"}});
  assert.deepEqual(narrowing("rating", 2.5), {filter: {minRating: "2.5"}});
  assert.deepEqual(narrowing("rating", 2), {filter: {minRating: "2"}});
  assert.equal(narrowing("rating", null), null);  // nothing selects the unrated
  assert.equal(narrowing("rating", 0), null);     // below the filter's least choice
  assert.deepEqual(narrowing("status", "finished"), {where: ["scan_status:eq:finished"]});
  // A text that reads as a number stays a text; ':' and ',' inside a value are encoded.
  assert.deepEqual(narrowing("shutter", "8"), {where: ['shutter:eq:"8"']});
  assert.deepEqual(narrowing("sample.name", "a:b,c"), {where: ["sample.name:eq:a%3Ab%2Cc"]});
  assert.deepEqual(fromWhere(narrowing("sample.name", "a:b,c").where[0]),
                   {key: "sample.name", op: "eq", values: ["a:b,c"], unit: ""});
  assert.deepEqual(narrowing("flag", true), {where: ["flag:eq:true"]});
});

test("a bar adds lo ≤ v < hi in the histogram's unit; the last bar is closed", () => {
  const bins = [{lo: 8, hi: 8.5, count: 1}, {lo: 8.5, hi: 9, count: 2}];
  assert.deepEqual(barNarrowing("photon_energy", "keV", bins, 0), {where: ["photon_energy:ge:8:keV", "photon_energy:lt:8.5:keV"]});
  assert.deepEqual(barNarrowing("photon_energy", "keV", bins, 1), {where: ["photon_energy:ge:8.5:keV", "photon_energy:le:9:keV"]});
  assert.deepEqual(barNarrowing("count", "", [{lo: -1e-9, hi: 2e21}], 0), {where: ["count:ge:-1e-9", "count:le:2e+21"]});
});

test("labels: values, bins, ratings, and what the counts cover", () => {
  assert.equal(binLabel({lo: -260, hi: -240}, "degC"), "-260 – -240 degC");
  assert.equal(binLabel({lo: 0.1 + 0.2, hi: 0.5}, ""), "0.3 – 0.5");
  assert.equal(num(7100), "7100");
  assert.equal(valueLabel("rating", 2.5), "★★½ 2.5");
  assert.equal(valueLabel("rating", null), "unrated");
  assert.equal(valueLabel("status", ""), "(empty)");
  assert.equal(countedNote({counted: 10000, of: 52000}), "counted over the newest 10,000 of 52,000 scans");
  assert.equal(countedNote({counted: 3, of: 3}), "3 scans");
  assert.equal(countedNote({counted: 0, of: 0}), "no scans");
});

test("facet-parts.js imports only pure modules and uses no browser global", () => {
  const pure = ["query.js", "conditions.js"];
  const text = readFileSync(new URL("../../scanlog_api/static/facet-parts.js", import.meta.url), "utf8");
  const code = text.split("\n").filter((l) => !l.trim().startsWith("//")).join("\n");
  for (const [, from] of code.matchAll(/\bfrom\s+["']([^"']+)["']/g)) assert.ok(pure.includes(from.replace(/^\.\//, "")), from);
  assert.doesNotMatch(code, /\b(document|window|localStorage|sessionStorage|location|history|navigator|fetch)\b/);
});
