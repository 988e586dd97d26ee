// conditions.js: a condition <-> the API's where text, operators for a type, compatible units.
import test from "node:test";
import assert from "node:assert/strict";
import {
  MAX_CONDITIONS, OP_LABELS, arity, compatibleUnits, conditionText, encodePart, fromForm, fromWhere, keyType, opsFor,
  orWhere, searchWithWheres, toWhere, wheresFromSearch,
} from "../../scanlog_api/static/conditions.js";

test("operators fit the key's type: numbers compare, texts match", () => {
  assert.deepEqual(opsFor("number"), ["eq", "ne", "lt", "le", "gt", "ge", "between", "exists"]);
  assert.deepEqual(opsFor("text"), ["eq", "ne", "contains", "in", "exists"]);
  assert.deepEqual(opsFor("any"), ["eq", "ne", "lt", "le", "gt", "ge", "between", "exists", "contains", "in"]);
  assert.deepEqual(opsFor("number").map((o) => OP_LABELS[o]), ["=", "≠", "<", "≤", ">", "≥", "between", "exists"]);
  assert.deepEqual(opsFor("text").map((o) => OP_LABELS[o]), ["=", "≠", "contains", "is one of", "exists"]);
  assert.deepEqual([arity("exists"), arity("between"), arity("in"), arity("lt")], [0, 2, "list", 1]);
  assert.equal(MAX_CONDITIONS, 8);
});

test("a key's type: a unit makes a number, else the values seen say", () => {
  assert.equal(keyType("eV", []), "number");
  assert.equal(keyType("", [1, [2, 3]]), "number");
  assert.equal(keyType("", ["open", ["a"]]), "text");
  assert.equal(keyType("", ["open", 2]), "any");
  assert.equal(keyType("", [null]), "any");
  assert.equal(keyType("", undefined), "any");
});

test("compatible units: the key's own first, then its dimension's; none without a unit", () => {
  assert.deepEqual(compatibleUnits("eV"), ["eV", "keV", "MeV", "J"]);
  assert.deepEqual(compatibleUnits("keV"), ["keV", "eV", "MeV", "J"]);
  assert.deepEqual(compatibleUnits("K"), ["K", "degC", "mK"]);
  assert.deepEqual(compatibleUnits("mbar"), ["mbar", "Pa", "hPa", "bar"]);
  assert.deepEqual(compatibleUnits("furlong"), ["furlong"]);  // unknown here: the server decides
  assert.deepEqual(compatibleUnits(""), []);
});

test("a condition as the API's where text, and back", () => {
  const cases = [
    [{key: "photon_energy", op: "between", values: ["8000", "10000"], unit: "eV"}, "number", "photon_energy:between:8000:10000:eV"],
    [{key: "sample_temperature", op: "lt", values: ["-253"], unit: "degC"}, "number", "sample_temperature:lt:-253:degC"],
    [{key: "shutter", op: "in", values: ["closed", "fault"], unit: ""}, "text", "shutter:in:closed,fault"],
    [{key: "shutter", op: "exists", values: [], unit: ""}, "text", "shutter:exists"],
    [{key: "sample.temperature", op: "le", values: ["20"], unit: "K"}, "number", "sample.temperature:le:20:K"],
    [{key: "count", op: "eq", values: ["8"], unit: ""}, "any", "count:eq:8"],
  ];
  for (const [c, type, text] of cases) {
    assert.equal(toWhere(c, type), text);
    assert.deepEqual(fromWhere(text), c);
  }
});

test("':' ',' '%' inside a part are percent-encoded, as the API decodes after splitting", () => {
  assert.equal(encodePart("a:b,c%d"), "a%3Ab%2Cc%25d");
  const c = {key: "odd:key", op: "in", values: ["x,y", "50%"], unit: ""};
  const text = toWhere(c, "text");
  assert.equal(text, "odd%3Akey:in:x%2Cy,50%25");
  assert.deepEqual(fromWhere(text), c);
  assert.deepEqual(fromWhere("note:contains:a%3Ab").values, ["a:b"]);
});

test("a text key's values that read as numbers or booleans are written as texts", () => {
  assert.equal(toWhere({key: "shutter", op: "eq", values: ["8"]}, "text"), 'shutter:eq:"8"');
  assert.equal(toWhere({key: "flag", op: "in", values: ["true", "no"]}, "text"), 'flag:in:"true",no');
  assert.equal(toWhere({key: "count", op: "eq", values: ["8"]}, "number"), "count:eq:8");
  assert.deepEqual(fromWhere('shutter:eq:"8"').values, ["8"]);
});

test("what is no condition reads as null (the API will name it)", () => {
  for (const text of ["", "key", "key:like:x", ":eq:1", "e:between:1", "e:lt:1:eV:extra", "e:in"]) {
    assert.equal(fromWhere(text), null, text);
  }
});

test("a chip's text", () => {
  assert.equal(conditionText(fromWhere("photon_energy:between:8000:10000:eV")), "photon_energy between 8000 and 10000 eV");
  assert.equal(conditionText(fromWhere("t:lt:-253:degC")), "t < -253 degC");
  assert.equal(conditionText(fromWhere("shutter:in:closed,fault")), "shutter is one of closed, fault");
  assert.equal(conditionText(fromWhere("shutter:exists")), "shutter exists");
  assert.equal(conditionText(fromWhere("shutter:ne:open")), "shutter ≠ open");
});

test("the builder's form as a where text, or what is missing", () => {
  assert.deepEqual(fromForm({key: " photon_energy ", op: "between", value: "8000", value2: "10000", unit: "eV"}, "number"),
                   {where: "photon_energy:between:8000:10000:eV"});
  assert.deepEqual(fromForm({key: "shutter", op: "in", value: "closed, fault,", unit: "eV"}, "text"),
                   {where: "shutter:in:closed,fault"});
  assert.deepEqual(fromForm({key: "shutter", op: "contains", value: "clo", unit: ""}, "any"), {where: "shutter:contains:clo"});
  assert.deepEqual(fromForm({key: "e", op: "exists", value: "ignored", unit: "eV"}, "number"), {where: "e:exists"});
  assert.deepEqual(fromForm({key: "", op: "eq", value: "1"}, "number"), {error: "pick a key"});
  assert.deepEqual(fromForm({key: "e", op: "between", value: "1", value2: ""}, "number"), {error: "e between: a value is missing"});
  assert.deepEqual(fromForm({key: "e", op: "in", value: " , "}, "text"), {error: "e is one of: a value is missing"});
  assert.deepEqual(fromForm({key: "e", op: "contains", value: "x"}, "number"), {error: "contains does not fit e"});
});

test("the conditions live in the address, the rest of it kept", () => {
  const search = "?proposal=A&where=e%3Alt%3A1%3AeV&where=s%3Aexists";
  assert.deepEqual(wheresFromSearch(search), ["e:lt:1:eV", "s:exists"]);
  assert.equal(searchWithWheres(search, ["s:exists"]), "?proposal=A&where=s%3Aexists");
  assert.equal(searchWithWheres("?proposal=A&where=x%3Aexists", []), "?proposal=A");
  assert.equal(searchWithWheres("", []), "");
  const odd = ["n:in:a%2Cb,c"];  // a part's own %-escape survives the address's
  assert.deepEqual(wheresFromSearch(searchWithWheres("", odd)), odd);
});

test("OR within one key: the key once, then each test after '|'", () => {
  const c = {key: "photon_energy", op: "between", values: ["8", "9"], unit: "keV",
             alternatives: [{op: "between", values: ["11", "12"], unit: "keV"}, {op: "lt", values: ["1000"], unit: "eV"}]};
  const text = "photon_energy:between:8:9:keV|between:11:12:keV|lt:1000:eV";
  assert.equal(toWhere(c, "number"), text);
  assert.deepEqual(fromWhere(text), c);
  assert.equal(conditionText(fromWhere(text)),
               "photon_energy between 8 and 9 keV or between 11 and 12 keV or < 1000 eV");
  assert.equal(conditionText(fromWhere("shutter:eq:closed|contains:pe")), "shutter = closed or contains pe");
  // a text with '|' is encoded; a plain condition has no alternatives
  assert.equal(encodePart("a|b"), "a%7Cb");
  assert.deepEqual(fromWhere(toWhere({key: "s", op: "eq", values: ["a|b"], unit: ""}, "text")).values, ["a|b"]);
  assert.equal(fromWhere("s:exists").alternatives, undefined);
  for (const bad of ["e:lt:1|", "e:lt:1||gt:2", "e:lt:1|e:gt:2", "e:lt:1|near:2"]) assert.equal(fromWhere(bad), null, bad);
});

test("a test joins a condition on the same key with OR, never one on another key", () => {
  assert.equal(orWhere("photon_energy:between:8:9:keV", "photon_energy:between:11:12:keV"),
               "photon_energy:between:8:9:keV|between:11:12:keV");
  assert.equal(orWhere("e:lt:1|gt:5", "e:eq:3"), "e:lt:1|gt:5|eq:3");
  assert.equal(orWhere("odd%3Akey:eq:1", "odd%3Akey:eq:2"), "odd%3Akey:eq:1|eq:2");
  assert.equal(orWhere("e:lt:1", "f:lt:1"), null);
  assert.equal(orWhere("e:lt:1", "e:nearly:1"), null);
});
