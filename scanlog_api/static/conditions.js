// Conditions on scientific metadata, as the condition builder holds them and as the API takes
// them: where=<key>:<op>[:<value>[:<unit>]] (scanlog_api/_conditions.py is the authority on
// their meaning; this only writes and reads the text). Pure (no DOM): node's tests import it.
//
// A condition: {key, op, values: [text...], unit[, alternatives: [{op, values, unit}...]]}: the
// alternatives are further tests on the same key, ORed, written after '|' without the key
// (photon_energy:between:8:9:keV|between:11:12:keV). Values stay as typed (text); the API reads a
// number as a number, so a text value that reads as one is written quoted ("8") for a text key.

export const MAX_CONDITIONS = 8;  // the API's bound (MAX_CONDITIONS in _conditions.py)

// The operators as the page shows them.
export const OP_LABELS = {eq: "=", ne: "≠", lt: "<", le: "≤", gt: ">", ge: "≥", between: "between", exists: "exists",
                          contains: "contains", in: "is one of"};
const OPS = {
  number: ["eq", "ne", "lt", "le", "gt", "ge", "between", "exists"],
  text: ["eq", "ne", "contains", "in", "exists"],
};
OPS.any = [...new Set([...OPS.number, ...OPS.text])];  // a key the page has seen no value of

// The operators that fit a key's type ("number", "text", or "any" when unknown).
export function opsFor(type) { return OPS[type] || OPS.any; }

// How many values an operator takes: exists none, between two, in a list, the others one.
export function arity(op) { return op === "exists" ? 0 : op === "between" ? 2 : op === "in" ? "list" : 1; }

// A key's type: a key with a unit is a number; otherwise what the values seen say (the API's
// keys answer gives units only). Values: the stored values on the page (lists by element).
export function keyType(unit, values) {
  if (unit) return "number";
  const seen = (values || []).flat().filter((v) => v != null);
  if (!seen.length) return "any";
  if (seen.every((v) => typeof v === "number")) return "number";
  if (seen.every((v) => typeof v === "string")) return "text";
  return "any";
}

// Common compatible units per dimension, enough for a picker: pint on the server converts any
// unit it knows and answers 422 naming an incompatible one, so a unit outside these still works
// when typed into a condition's address.
export const UNIT_GROUPS = [
  ["eV", "keV", "MeV", "J"],
  ["K", "degC", "mK"],
  ["Pa", "hPa", "mbar", "bar"],
  ["m", "mm", "um", "nm"],
  ["s", "ms", "min", "h"],
  ["A", "mA"],
  ["V", "kV"],
  ["deg", "rad"],
  ["Hz", "kHz"],
];

// The units a condition on a key stored in `unit` may be given in: the key's own first, then its
// dimension's others; none for a key without a unit.
export function compatibleUnits(unit) {
  if (!unit) return [];
  const group = UNIT_GROUPS.find((g) => g.includes(unit)) || [];
  return [unit, ...group.filter((u) => u !== unit)];
}

// A part as the API splits it: '|' ':' ',' '%' inside one are percent-encoded (the API decodes
// each part after splitting). Nothing else is touched: URLSearchParams encodes the parameter itself.
export function encodePart(text) {
  return String(text).replace(/%/g, "%25").replace(/:/g, "%3A").replace(/,/g, "%2C").replace(/\|/g, "%7C");
}
const OR = "|";

function decodePart(text) {
  try { return decodeURIComponent(text); } catch { return text; }  // a stray '%' stays as written
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;  // the API's number syntax
// A text value as the API must read it: text even when it looks like a number or a boolean.
function asText(v) { return NUMBER.test(v) || v === "true" || v === "false" || /^".*"$/.test(v) ? `"${v}"` : v; }

// One test as the API's text after the key: op[:values][:unit].
function testText({op, values = [], unit = ""}, type) {
  const vals = values.map((v) => (type === "text" ? asText(String(v)) : String(v)));
  const parts = [op];
  if (op === "in") parts.push(vals.map(encodePart).join(","));
  else parts.push(...vals.map(encodePart));
  if (unit && op !== "exists") parts.push(encodePart(unit));
  return parts.join(":");
}

// A condition as one where parameter's text. `type` "text" writes values as texts.
export function toWhere(c, type = "any") {
  return [encodePart(c.key) + ":" + testText(c, type), ...(c.alternatives || []).map((a) => testText(a, type))].join(OR);
}

// One test from its ':'-separated parts after the key, null if it is none.
function readTest(raw) {
  if (!raw.length || !(raw[0] in OP_LABELS)) return null;
  const op = raw[0], rest = raw.slice(1);
  let values, units;
  if (op === "in") [values, units] = [rest.length ? rest[0].split(",").map(decodePart) : [], rest.slice(1)];
  else { const n = arity(op); [values, units] = [rest.slice(0, n).map(decodePart), rest.slice(n)]; }
  if (units.length > 1 || (op === "in" ? !values.length : values.length !== arity(op))) return null;
  return {op, values: values.map((v) => (/^".*"$/.test(v) && v.length >= 2 ? v.slice(1, -1) : v)),
          unit: units.length ? decodePart(units[0]) : ""};
}

// One where parameter's text as a condition (the inverse of toWhere, as the API splits it);
// null for a text that is no condition (the API will name it).
export function fromWhere(text) {
  const [first, ...more] = String(text).split(OR);
  const raw = first.split(":");
  if (raw.length < 2 || !raw[0]) return null;
  const tests = [readTest(raw.slice(1)), ...more.map((m) => readTest(m.split(":")))];
  if (tests.some((t) => t === null)) return null;
  const [own, ...alternatives] = tests;
  return {key: decodePart(raw[0]), ...own, ...(alternatives.length ? {alternatives} : {})};
}

// `where` with the tests of `addition` (a where on the same key) ORed in; null when the two are
// not conditions on one key.
export function orWhere(where, addition) {
  const [a, b] = [fromWhere(where), fromWhere(addition)];
  if (!a || !b || a.key !== b.key) return null;
  return where + OR + addition.slice(addition.indexOf(":") + 1);
}

// A condition as a chip reads: "photon_energy between 8000 and 10000 eV", its alternatives after
// "or" ("... or between 11 and 12 keV").
export function conditionText(c) {
  if (!c) return "";
  return [c.key + " " + phrase(c), ...(c.alternatives || []).map(phrase)].join(" or ");
}

function phrase(t) {
  const unit = t.unit ? " " + t.unit : "";
  if (t.op === "exists") return "exists";
  if (t.op === "between") return `between ${t.values[0]} and ${t.values[1]}${unit}`;
  if (t.op === "in") return `is one of ${t.values.join(", ")}`;
  return `${OP_LABELS[t.op]} ${t.values[0]}${unit}`;
}

// What the builder's form says, as a where text, or {error} saying what is missing. The form:
// {key, op, value, value2, unit}; `type` the key's (keyType). The API checks the rest (numbers,
// units, bounds) and its 422 names the condition.
export function fromForm({key, op, value = "", value2 = "", unit = ""}, type = "any") {
  key = key.trim();
  if (!key) return {error: "pick a key"};
  if (!opsFor(type).includes(op)) return {error: `${OP_LABELS[op] || op} does not fit ${key}`};
  const n = arity(op);
  let values = n === 0 ? [] : n === 2 ? [value.trim(), value2.trim()] : n === "list" ? value.split(",").map((v) => v.trim()) : [value.trim()];
  if (n === "list") values = values.filter((v) => v !== "");
  if (values.some((v) => v === "") || (n === "list" && !values.length)) return {error: `${key} ${OP_LABELS[op]}: a value is missing`};
  const withUnit = type !== "text" && n !== 0 && n !== "list" && op !== "contains";
  return {where: toWhere({key, op, values, unit: withUnit ? unit : ""}, type)};
}

// The where texts in a page's address (?where=... repeated).
export function wheresFromSearch(search) { return new URLSearchParams(search).getAll("where"); }

// The address's query with its where parameters replaced by these (the rest kept in order).
export function searchWithWheres(search, wheres) {
  const q = new URLSearchParams(search);
  q.delete("where");
  for (const w of wheres) q.append("where", w);
  const text = q.toString();
  return text ? "?" + text : "";
}
