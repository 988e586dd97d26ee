// curve-parts.js: which file holds a derived dataset's curve, and the curve read from it.
import test from "node:test";
import assert from "node:assert/strict";
import {MAX_CURVE_BYTES, curveFile, parseCurve, yRange} from "../../scanlog_api/static/curve-parts.js";

const DERIVED = {scientificMetadata: {recipe: {value: "{}"}},
                 files: [{path: "/work/d/profile.nxs", size: 900}, {path: "/work/d/profile.csv", size: 120}]};

test("the curve is the CSV of a dataset a reduction made", () => {
  assert.equal(curveFile(DERIVED), "/work/d/profile.csv");
  assert.equal(curveFile({...DERIVED, scientificMetadata: {}}), null);  // a raw scan's CSV is not read
  assert.equal(curveFile({...DERIVED, files: [{path: "/w/p.csv", size: MAX_CURVE_BYTES + 1}]}), null);
  assert.equal(curveFile(null), null);
});

test("a curve is read by its header's names, sorted by x, a bad row skipped and counted", () => {
  const curve = parseCurve("sigma,x,y\r\n0.5,2,10\n0.1,1,4\n,3,oops\n\n0.2,0,1\n");
  assert.deepEqual(curve, {x: [0, 1, 2], y: [1, 4, 10], sigma: [0.2, 0.1, 0.5], skipped: 1});
  assert.throws(() => parseCurve("x,y\n1,2\n"), /no column sigma \(its header: x,y\)/);
  assert.throws(() => parseCurve(""), /no column x, y, sigma/);
});

test("the y range holds every error bar", () => {
  const [lo, hi] = yRange({x: [0, 1], y: [1, 4], sigma: [0.5, 1]});
  assert.ok(lo < 0.5 && hi > 5, `${lo} ${hi}`);
  assert.deepEqual(yRange({x: [], y: [], sigma: []}), [0, 1]);
});
