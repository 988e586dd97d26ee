// preview-parts.js: which scans a pipeline is tried on, the parameters as typed, the steps' marks.
import test from "node:test";
import assert from "node:assert/strict";
import {candidates, paramsOf, previewSentence, startingParams, stepMarks} from "../../scanlog_api/static/preview-parts.js";

const PROFILE = {name: "profile", steps: [
  {name: "load", parameters: []},
  {name: "normalise", parameters: [{name: "scale", type: "number", default: 1.0}]},
  {name: "bin", parameters: [{name: "bins", type: "integer", default: 5}]}]};

test("a pipeline is tried on the scans the rules in use of it reduce, never by a group rule", () => {
  const rules = [{name: "fine", pipeline: "profile"}, {name: "series", pipeline: "profile", group: {keys: ["s"]}},
                 {name: "other", pipeline: "stitch"}];
  const dry = {scans: [{pid: "p/1", datasetName: "scan 1", matches: [{rule: "fine"}, {rule: "series"}, {rule: "other"}]},
                       {pid: "p/2", matches: [{rule: "other"}]}]};
  assert.deepEqual(candidates(dry, rules, "profile"), [{pid: "p/1", rule: "fine", label: "scan 1 · rule fine"}]);
  assert.deepEqual(candidates(null, rules, "profile"), []);
});

test("parameters start at the rule's own, else the step's default, and are sent as their types", () => {
  const start = startingParams(PROFILE, {params: {bin: {bins: 2}}});
  assert.deepEqual(start.map((p) => [p.step, p.name, p.text]), [["normalise", "scale", "1"], ["bin", "bins", "2"]]);
  assert.deepEqual(paramsOf(start), {normalise: {scale: 1}, bin: {bins: 2}});
  // An empty box is left to the rule; what is no number is sent as typed (the pipeline names it).
  assert.deepEqual(paramsOf([{...start[0], text: ""}, {...start[1], text: "many"}]), {bin: {bins: "many"}});
  assert.deepEqual(paramsOf([{step: "s", name: "on", type: "boolean", text: "true"}]), {s: {on: true}});
});

test("a step is marked as run or cached, and the outcome said", () => {
  const done = {state: "done", steps: ["load", "normalise", "bin"], executed: ["bin"], result: {x: [1, 2], y: [1, 2], sigma: [0, 0]}};
  assert.deepEqual(stepMarks(done), {load: "cached", normalise: "cached", bin: "executed"});
  assert.equal(previewSentence(done, 123.4), "2 points in 123 ms; ran: bin; cached: load, normalise.");
  assert.equal(previewSentence({state: "failed", error: "bins: too few"}, 5), "No result: bins: too few");
});
