// compare-parts.js: which scans "Compare results" plots (a bound), each one's derived dataset,
// its legend name, and the note under the plot.
import test from "node:test";
import assert from "node:assert/strict";
import {COLOURS, MAX_COMPARED, compareNote, comparedPids, derivedOf, scanName} from "../../scanlog_api/static/compare-parts.js";

test("at most ten scans are compared, the rest counted", () => {
  const pids = Array.from({length: 13}, (_, i) => `p/${i}`);
  assert.equal(MAX_COMPARED, 10);
  assert.deepEqual(comparedPids(pids), {pids: pids.slice(0, 10), left: 3});
  assert.deepEqual(comparedPids(["a", "b", "a"]), {pids: ["a", "b"], left: 0});
  assert.deepEqual(comparedPids(new Set(["a"])), {pids: ["a"], left: 0});
  assert.deepEqual(comparedPids(undefined), {pids: [], left: 0});
  assert.equal(new Set(COLOURS).size, MAX_COMPARED);  // one colour each
});

test("a scan's result is its newest succeeded reduction's, or itself when derived", () => {
  const scan = {pid: "raw/1", scientificMetadata: {}, reductions: [
    {state: "succeeded", derived: "d/old"}, {state: "succeeded", derived: "d/new"}, {state: "failed"}, {state: "running"}]};
  assert.equal(derivedOf(scan), "d/new");
  assert.equal(derivedOf({pid: "d/1", scientificMetadata: {recipe: {value: "{}"}}}), "d/1");
  assert.equal(derivedOf({pid: "raw/2", reductions: [{state: "failed", derived: null}]}), null);
  assert.equal(derivedOf(null), null);
});

test("the legend names a scan by number and title, else its pid; the note says what is missing", () => {
  assert.equal(scanName({pid: "p/1", scan_id: "12", title: "Pt foil"}), "scan 12: Pt foil");
  assert.equal(scanName({pid: "p/1", scan_id: "", title: ""}), "p/1");
  assert.equal(compareNote(2, [{name: "scan 3: x", why: "no reduction result yet"}], 4),
               "2 results overlaid, each point with its uncertainty (±1σ); scan 3: x: no reduction result yet; "
               + "4 more selected: at most 10 are compared at once, the first 10 are shown");
  assert.equal(compareNote(0, [], 0), "no result to show");
});
