// The rules page on plain data: a rule from its form's values, each problem the API names put
// beside its field, a diff between two revisions as lines a person reads, a dry run in a sentence.
// Pure (tests/js/rules.test.mjs); rules.js puts it on the page.

// The fields the form edits, in its order; a rule's other fields (ones a newer server knows)
// are kept as they were read, never dropped by a save.
export const TEXT_FIELDS = ["name", "pipeline", "beamline", "data_format", "file_pattern", "python"];
export const OPS = ["==", "!=", "<", "<=", ">", ">="];

export function blankRule(n) { return {name: `rule-${n}`, pipeline: "profile", beamline: "*", data_format: "*", file_pattern: "*", when: [], params: {}, timeout_s: 300, python: ""}; }

// A condition's value as typed: JSON when it reads as JSON (a number, true, "text", [1, 2]), else the text itself.
export function parseValue(text) {
  const t = String(text).trim();
  if (t === "") return "";
  try { return JSON.parse(t); } catch { return t; }
}

export function valueText(value) { return typeof value === "string" ? value : JSON.stringify(value); }

// A JSON object typed in a text box ("" is none): {value} or {problem}.
function parseObject(text, empty) {
  const t = String(text || "").trim();
  if (t === "") return {value: empty};
  try {
    const value = JSON.parse(t);
    if (value === null || typeof value !== "object" || Array.isArray(value)) return {problem: "must be a JSON object, e.g. {\"bin\": {\"bins\": 4}}"};
    return {value};
  } catch (err) {
    return {problem: `is not JSON: ${err.message}`};
  }
}

// The rule at `index` from the form's values, over the rule as read (its other fields kept).
// Returns {rule, problems: [{field: "rules.<i>.<field>", message}]} for what the page itself can tell.
export function ruleFromForm(original, values, index) {
  const rule = {...(original || {})};
  const problems = [];
  for (const f of TEXT_FIELDS) rule[f] = String(values[f] ?? "").trim();
  const timeout = String(values.timeout_s ?? "").trim();
  rule.timeout_s = timeout === "" ? 300 : Number(timeout);
  if (timeout !== "" && !Number.isFinite(rule.timeout_s)) {
    problems.push({field: `rules.${index}.timeout_s`, message: "must be a number of seconds"});
    rule.timeout_s = timeout;  // sent as typed: the server names it too
  }
  rule.when = (values.when || []).map((c) => ({key: String(c.key || "").trim(), op: c.op || "==", value: parseValue(c.value ?? "")}));
  const params = parseObject(values.params, {});
  if (params.problem) problems.push({field: `rules.${index}.params`, message: params.problem});
  else rule.params = params.value;
  if ("group" in values) {
    const group = parseObject(values.group, null);
    if (group.problem) problems.push({field: `rules.${index}.group`, message: group.problem});
    else if (group.value === null) delete rule.group;
    else rule.group = group.value;
  }
  return {rule, problems};
}

// A field's place in the request ("rules.1.timeout_s") from FastAPI's location (["body", "rules", 1, "timeout_s"]).
export function fieldOf(loc) {
  const parts = (loc || []).map(String);
  return (parts[0] === "body" ? parts.slice(1) : parts).join(".");
}

// Every problem an answer names: FastAPI's list ({loc, msg}), ours ({problems: [{field, message}]}),
// or one sentence (field "", shown for the whole form).
export function problemsOf(status, body) {
  if (Array.isArray(body?.problems) && body.problems.length) return body.problems.map((p) => ({field: p.field || "", message: p.message || ""}));
  if (Array.isArray(body?.detail)) return body.detail.map((d) => ({field: fieldOf(d.loc), message: String(d.msg || "").replace(/^Value error, /, "")}));
  return [{field: "", message: typeof body?.detail === "string" ? body.detail : `the server answered ${status}`}];
}

// The place on the page for a problem of `field`: itself when the page has it, else its nearest
// enclosing one (a condition's "rules.0.when.1.op" inside "rules.0.when.1"; a parameter's path inside
// "rules.0.params"), else the rule, else the form ("").
export function placeFor(field, places) {
  const parts = String(field || "").split(".").filter((p) => p !== "");
  for (let n = parts.length; n > 0; n--) {
    const here = parts.slice(0, n).join(".");
    if (places.has(here)) return here;
  }
  return "";
}

// Text for a value in a diff: "—" where there was none.
export function shown(value) {
  if (value === null || value === undefined) return "—";
  return JSON.stringify(value);
}

export function conditionText(c) { return `${c.key} ${c.op} ${valueText(c.value)}`; }

// A diff (the API's) as rows: {kind: "added" | "removed" | "changed", rule, field, from, to}, each a line.
export function diffRows(diff) {
  const rows = [];
  for (const r of diff.added || []) rows.push({kind: "added", rule: r.name, field: "", from: "", to: ruleText(r)});
  for (const r of diff.removed || []) rows.push({kind: "removed", rule: r.name, field: "", from: ruleText(r), to: ""});
  for (const c of diff.changed || []) {
    for (const f of c.fields) {
      const whenish = f.field === "when";
      rows.push({kind: "changed", rule: c.name, field: f.field,
                 from: whenish ? whenText(f.from) : shown(f.from), to: whenish ? whenText(f.to) : shown(f.to)});
    }
  }
  if (diff.reordered) rows.push({kind: "changed", rule: "", field: "order of the rules", from: "", to: ""});
  return rows;
}

function whenText(list) { return Array.isArray(list) && list.length ? list.map(conditionText).join(" and ") : "—"; }

// A whole rule on one line (as added or removed).
export function ruleText(r) {
  const parts = [`${r.pipeline} on beamline ${r.beamline ?? "*"}`, `files ${r.file_pattern ?? "*"}`];
  if ((r.data_format ?? "*") !== "*") parts.push(`format ${r.data_format}`);
  if (r.when?.length) parts.push(`when ${whenText(r.when)}`);
  if (r.params && Object.keys(r.params).length) parts.push(`params ${JSON.stringify(r.params)}`);
  return parts.join(", ");
}

// The dry run in a sentence: "Of your last 200 scans, 3 would be reduced (fine 2, any 1)."
export function dryRunSentence(answer) {
  const per = Object.entries(answer.perRule || {}).map(([rule, n]) => `${rule} ${n}`).join(", ");
  const scans = answer.lookedAt === 1 ? "scan" : "scans";
  return `Of your last ${answer.lookedAt} ${scans}, ${answer.matched} would be reduced${per ? ` (${per})` : ""}.`;
}

// What a revision did, in a line: its summary, and the revision it restored, if it did.
export function revisionLine(r) {
  const restored = r.restoredFrom ? ` (restores revision ${r.restoredFrom})` : "";
  return `${r.summary}${restored}`;
}

// --- pipelines (the workers' descriptions, GET /api/pipelines) ------------------------------

// A parameter in a line: "bin.bins: integer = 5 (≥ 1, ≤ 10000)".
export function parameterText(step, p) {
  const def = p.required ? " (required)" : p.default === null || p.default === undefined ? "" : ` = ${JSON.stringify(p.default)}`;
  const bounds = p.constraints?.length ? ` (${p.constraints.join(", ")})` : "";
  return `${step}.${p.name}: ${p.type}${def}${bounds}`;
}

// What a rule of this pipeline may set in its parameters, one line per parameter.
export function parameterHints(pipeline) {
  if (!pipeline) return [];
  return pipeline.steps.flatMap((s) => s.parameters.map((p) => parameterText(s.name, p)));
}

// The pipeline as a graph laid out in columns: the raw input in the first, each step one column
// right of its furthest input; {nodes: [{id, label, column, row}], edges: [{from, to}], columns, rows}.
export function pipelineLayout(pipeline) {
  const column = {raw: 0};
  const nodes = [{id: "raw", label: "raw (the scan's file)", column: 0, row: 0}];
  const perColumn = [1];
  const edges = [];
  for (const s of pipeline.steps) {
    const c = 1 + Math.max(0, ...s.inputs.map((i) => column[i] ?? 0));
    column[s.name] = c;
    const row = perColumn[c] || 0;
    perColumn[c] = row + 1;
    nodes.push({id: s.name, label: `${s.name} v${s.version}`, column: c, row});
    for (const i of s.inputs) edges.push({from: i, to: s.name});
  }
  return {nodes, edges, columns: perColumn.length, rows: Math.max(...perColumn.map((n) => n || 0))};
}
