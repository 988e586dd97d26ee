// rule-parts.js: a rule from its form, each problem beside its field, a diff and a dry run as text.
import test from "node:test";
import assert from "node:assert/strict";
import {
  blankRule, diffRows, dryRunSentence, fieldOf, parameterHints, parseValue, pipelineLayout, placeFor, problemsOf,
  revisionLine, ruleFromForm,
} from "../../scanlog_api/static/rule-parts.js";

const FORM = {name: " fine ", pipeline: "profile", beamline: "sim", data_format: "*", file_pattern: "*.nxs", python: "",
              timeout_s: "60", params: '{"bin": {"bins": 4}}',
              when: [{key: "photon_energy", op: ">", value: "7000"}, {key: "sample", op: "==", value: "Si"}]};

test("a rule from its form keeps the fields the form does not edit", () => {
  const {rule, problems} = ruleFromForm({name: "fine", runner: "dask", extra: 1}, FORM, 0);
  assert.deepEqual(problems, []);
  assert.deepEqual(rule, {name: "fine", runner: "dask", extra: 1, pipeline: "profile", beamline: "sim", data_format: "*",
                          file_pattern: "*.nxs", python: "", timeout_s: 60, params: {bin: {bins: 4}},
                          when: [{key: "photon_energy", op: ">", value: 7000}, {key: "sample", op: "==", value: "Si"}]});
  assert.equal(ruleFromForm(blankRule(1), {...FORM, timeout_s: ""}, 0).rule.timeout_s, 300);
});

test("what the page can tell is wrong is named by its field", () => {
  const {problems} = ruleFromForm({}, {...FORM, params: "{bins: 4", timeout_s: "soon"}, 2);
  assert.deepEqual(problems.map((p) => p.field), ["rules.2.timeout_s", "rules.2.params"]);
  assert.match(problems[1].message, /^is not JSON/);
  assert.match(ruleFromForm({}, {...FORM, params: "[1]"}, 0).problems[0].message, /must be a JSON object/);
  // A group as JSON: emptied, it is removed.
  assert.equal("group" in ruleFromForm({group: {keys: ["s"], count: 2}}, {...FORM, group: ""}, 0).rule, false);
});

test("a condition's value is JSON when it reads as JSON, else the text", () => {
  assert.equal(parseValue(" 3.5 "), 3.5);
  assert.equal(parseValue("true"), true);
  assert.equal(parseValue("Si"), "Si");
  assert.equal(parseValue('"7"'), "7");
});

test("the API's problems, in both shapes, find their place on the page", () => {
  const fastapi = {detail: [{loc: ["body", "rules", 1, "timeout_s"], msg: "Input should be greater than 0"},
                            {loc: ["body", "rules", 0, "when", 1, "op"], msg: "Input should be '==' or '!='"},
                            {loc: ["body", "rules", 0, "name"], msg: "Value error, a rule's name must not end in .r<N>"}]};
  const found = problemsOf(422, fastapi);
  assert.deepEqual(found.map((p) => p.field), ["rules.1.timeout_s", "rules.0.when.1.op", "rules.0.name"]);
  assert.equal(found[2].message, "a rule's name must not end in .r<N>");
  assert.deepEqual(problemsOf(422, {detail: "x", problems: [{field: "rules.1.name", message: "twice"}]}),
                   [{field: "rules.1.name", message: "twice"}]);
  assert.deepEqual(problemsOf(409, {detail: "stale"}), [{field: "", message: "stale"}]);
  assert.deepEqual(problemsOf(500, {}), [{field: "", message: "the server answered 500"}]);
  const places = new Set(["", "rules.0", "rules.0.when.1", "rules.0.params", "rules.1.timeout_s"]);
  assert.equal(placeFor("rules.1.timeout_s", places), "rules.1.timeout_s");
  assert.equal(placeFor("rules.0.when.1.op", places), "rules.0.when.1");
  assert.equal(placeFor("rules.0.params.bin.bins", places), "rules.0.params");
  assert.equal(placeFor("rules.0.beamline", places), "rules.0");
  assert.equal(placeFor("rules", places), "");
  assert.equal(fieldOf(["body", "rules", 3]), "rules.3");
});

test("a diff reads as lines: rule, field, before, after", () => {
  const rows = diffRows({
    added: [{name: "sum", pipeline: "sum", beamline: "xrd", file_pattern: "*", when: [{key: "n", op: ">", value: 1}]}],
    removed: [{name: "old", pipeline: "profile", beamline: "*", file_pattern: "*.dat", params: {bin: {bins: 2}}}],
    changed: [{name: "fine", fields: [{field: "params.bin.bins", from: 2, to: 4}, {field: "python", from: "", to: "/opt/py"},
                                      {field: "when", from: [], to: [{key: "t", op: "<", value: 20}]}]}],
    reordered: true});
  assert.deepEqual(rows, [
    {kind: "added", rule: "sum", field: "", from: "", to: "sum on beamline xrd, files *, when n > 1"},
    {kind: "removed", rule: "old", field: "", from: 'profile on beamline *, files *.dat, params {"bin":{"bins":2}}', to: ""},
    {kind: "changed", rule: "fine", field: "params.bin.bins", from: "2", to: "4"},
    {kind: "changed", rule: "fine", field: "python", from: '""', to: '"/opt/py"'},
    {kind: "changed", rule: "fine", field: "when", from: "—", to: "t < 20"},
    {kind: "changed", rule: "", field: "order of the rules", from: "", to: ""}]);
});

test("the dry run and a revision in a sentence", () => {
  assert.equal(dryRunSentence({lookedAt: 200, matched: 3, perRule: {fine: 2, any: 1}}),
               "Of your last 200 scans, 3 would be reduced (fine 2, any 1).");
  assert.equal(dryRunSentence({lookedAt: 1, matched: 0, perRule: {}}), "Of your last 1 scan, 0 would be reduced.");
  assert.equal(revisionLine({summary: "changed fine (timeout_s)", restoredFrom: 1}),
               "changed fine (timeout_s) (restores revision 1)");
});

const PROFILE = {name: "profile", version: "1", steps: [
  {name: "load", version: "2", inputs: ["raw"], parameters: []},
  {name: "normalise", version: "1", inputs: ["load"], parameters: [{name: "scale", type: "number", default: 1, required: false, constraints: ["> 0"]}]},
  {name: "monitor", version: "1", inputs: ["raw"], parameters: [{name: "key", type: "string", required: true, constraints: []}]},
  {name: "bin", version: "2", inputs: ["normalise", "monitor"], parameters: [{name: "bins", type: "integer", default: 5, required: false, constraints: ["≥ 1", "≤ 10000"]}]}]};

test("a pipeline's parameters read as lines with their types, defaults and bounds", () => {
  assert.deepEqual(parameterHints(PROFILE), [
    "normalise.scale: number = 1 (> 0)", "monitor.key: string (required)", "bin.bins: integer = 5 (≥ 1, ≤ 10000)"]);
  assert.deepEqual(parameterHints(undefined), []);
});

test("a pipeline is laid out in columns, each step right of its furthest input", () => {
  const layout = pipelineLayout(PROFILE);
  assert.deepEqual(layout.nodes.map((n) => [n.id, n.column, n.row]),
                   [["raw", 0, 0], ["load", 1, 0], ["normalise", 2, 0], ["monitor", 1, 1], ["bin", 3, 0]]);
  assert.deepEqual(layout.edges.filter((e) => e.to === "bin"), [{from: "normalise", to: "bin"}, {from: "monitor", to: "bin"}]);
  assert.equal(layout.columns, 4);
  assert.equal(layout.rows, 2);
});
