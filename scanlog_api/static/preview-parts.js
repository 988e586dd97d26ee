// The pipeline view's preview on plain data: which scans and rules a pipeline can be tried on,
// each parameter's starting value, the parameters typed in as the API takes them, and what a
// step's mark says (ran, or read from the cache). Pure: preview.js does the asking and drawing.

// The (scan, rule) pairs to try a pipeline on: the dry run's matches of the rules in use whose
// pipeline it is (rules that reduce groups of scans have no preview). [{pid, rule, label}]
export function candidates(dryRun, rules, pipeline) {
  const mine = new Set((rules || []).filter((r) => r.pipeline === pipeline && !r.group).map((r) => r.name));
  const out = [];
  for (const scan of dryRun?.scans || []) {
    for (const m of scan.matches || []) {
      if (mine.has(m.rule)) out.push({pid: scan.pid, rule: m.rule, label: `${scan.datasetName || scan.pid} · rule ${m.rule}`});
    }
  }
  return out;
}

// Each parameter's starting value: the rule's own, else the step's default. [{step, name, type, value, text}]
export function startingParams(pipeline, rule) {
  const out = [];
  for (const s of pipeline?.steps || []) {
    for (const p of s.parameters || []) {
      const own = rule?.params?.[s.name]?.[p.name];
      const value = own !== undefined ? own : p.default;
      out.push({step: s.name, name: p.name, type: p.type, value,
                text: value === null || value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value)});
    }
  }
  return out;
}

// The parameters as typed ([{step, name, type, text}]) as the API takes them ({step: {name: value}}):
// numbers as numbers, true/false as booleans, JSON for arrays and objects; an empty box is left
// to the rule. A number that is not one is sent as typed: the pipeline names what is wrong.
export function paramsOf(fields) {
  const out = {};
  for (const f of fields) {
    const text = String(f.text ?? "").trim();
    if (text === "") continue;
    let value = text;
    if (f.type === "integer" || f.type === "number") value = Number.isFinite(Number(text)) ? Number(text) : text;
    else if (f.type === "boolean") value = text === "true" ? true : text === "false" ? false : text;
    else if (f.type === "array" || f.type === "object") { try { value = JSON.parse(text); } catch { value = text; } }
    (out[f.step] ||= {})[f.name] = value;
  }
  return out;
}

// Each step's mark after a preview: "executed" (it ran) or "cached" (its result was read, or not
// needed because what follows it was cached). {step: mark}
export function stepMarks(preview) {
  const ran = new Set(preview?.executed || []);
  return Object.fromEntries((preview?.steps || []).map((s) => [s, ran.has(s) ? "executed" : "cached"]));
}

// The preview's outcome in a sentence.
export function previewSentence(preview, ms) {
  if (preview.state === "failed") return `No result: ${preview.error || "the preview failed"}`;
  if (preview.state === "superseded") return "Replaced by a newer preview.";
  if (preview.state !== "done") return `Waiting for a reduction worker (${preview.state})…`;
  const marks = stepMarks(preview);
  const ran = Object.keys(marks).filter((s) => marks[s] === "executed");
  const cached = Object.keys(marks).filter((s) => marks[s] === "cached");
  const n = preview.result?.x?.length ?? 0;
  return `${n} point${n === 1 ? "" : "s"} in ${Math.round(ms)} ms; ran: ${ran.join(", ") || "nothing"}; `
    + `cached: ${cached.join(", ") || "nothing"}.`;
}
