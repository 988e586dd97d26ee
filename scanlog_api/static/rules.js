// The reduction rules page: the rules in use as a form (one fieldset per rule), each problem the
// API names shown beside its field, a dry run over the caller's newest scans, save from the
// revision read (a conflict said, the edit kept), and the history with diffs and restores.
// The decisions on plain data are rule-parts.js's.
import {$, auth, el, send, status, tokenNotice} from "./session.js";
import {dateText} from "./format.js";
import {
  OPS, TEXT_FIELDS, blankRule, diffRows, dryRunSentence, parameterHints, parameterText, pipelineLayout, placeFor,
  problemsOf, revisionLine, ruleFromForm, valueText,
} from "./rule-parts.js";
import {candidates} from "./preview-parts.js";
import {previewPanel} from "./preview.js";

const LABELS = {name: "Name", pipeline: "Pipeline", beamline: "Beamline", data_format: "Data format",
                file_pattern: "File pattern", python: "Runner (Python of the job's environment; empty: the worker's)",
                timeout_s: "Timeout (s)", when: "Metadata conditions", params: "Parameters", group: "Group (JSON)"};

const state = {revision: 0, rules: [], mayChange: {all: false, beamlines: []}, history: [], pipelines: {},
               saved: [], tryOn: null};  // the rules as read, and the dry run of them (the preview's scans)

// A request whose refusal keeps its body (the problems to put beside their fields).
async function call(path, options = {}) {
  const response = await fetch(path, {...options, headers: {...auth, ...(options.headers || {})}});
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(problemsOf(response.status, body).map((p) => p.message).join("; ")),
                                        {status: response.status, body});
  return body;
}

function may() { return state.mayChange.all || state.mayChange.beamlines.length > 0; }

// --- the form ------------------------------------------------------------------------------

function errorSpot(field) {
  const spot = el("p", null, "field-error");
  spot.dataset.field = field;
  spot.setAttribute("role", "alert");
  spot.hidden = true;
  return spot;
}

function row(grid, key, index, control) {
  const id = `r${index}-${key}`;
  control.id = id;
  control.dataset.field = `rules.${index}.${key}`;
  const label = el("label", LABELS[key]);
  label.htmlFor = id;
  const box = el("div", null, "field");
  box.append(control, errorSpot(`rules.${index}.${key}`));
  grid.append(label, box);
}

function conditionItem(index, n, c) {
  const li = el("li");
  li.dataset.field = `rules.${index}.when.${n}`;
  const key = el("input");
  key.className = "c-key"; key.value = c.key || ""; key.placeholder = "metadata key"; key.setAttribute("aria-label", "metadata key");
  const op = el("select");
  op.className = "c-op"; op.setAttribute("aria-label", "operator");
  for (const o of OPS) op.append(new Option(o, o, false, o === (c.op || "==")));
  const value = el("input");
  value.className = "c-value"; value.value = c.value === undefined ? "" : valueText(c.value); value.setAttribute("aria-label", "value");
  const drop = el("button", "×", "c-drop");
  drop.type = "button"; drop.title = "remove this condition"; drop.setAttribute("aria-label", "remove this condition");
  drop.addEventListener("click", () => { li.remove(); renumberConditions(index); });
  li.append(key, op, value, drop, errorSpot(`rules.${index}.when.${n}`));
  return li;
}

function renumberConditions(index) {
  document.querySelectorAll(`fieldset.rule[data-index="${index}"] .conditions li`).forEach((li, n) => {
    li.dataset.field = `rules.${index}.when.${n}`;
    li.querySelector(".field-error").dataset.field = `rules.${index}.when.${n}`;
  });
}

function ruleFieldset(rule, index) {
  const set = el("fieldset", null, "rule");
  set.dataset.index = String(index);
  set.dataset.field = `rules.${index}`;
  set.append(el("legend", rule.name || `rule ${index + 1}`));
  const grid = el("div", null, "rule-grid");
  for (const key of TEXT_FIELDS.slice(0, 5)) {
    const input = el("input");
    input.value = rule[key] ?? "";
    input.className = `f-${key}`;
    if (key === "pipeline") input.setAttribute("list", "pipeline-names");
    row(grid, key, index, input);
  }
  const conditions = el("ul", null, "conditions");
  (rule.when || []).forEach((c, n) => conditions.append(conditionItem(index, n, c)));
  const addCondition = el("button", "Add condition", "c-add");
  addCondition.type = "button";
  addCondition.addEventListener("click", () => {
    conditions.append(conditionItem(index, conditions.children.length, {key: "", op: "==", value: ""}));
  });
  const whenBox = el("div");
  whenBox.append(conditions, addCondition);
  row(grid, "when", index, whenBox);
  const params = el("textarea");
  params.className = "f-params";
  params.value = JSON.stringify(rule.params || {});
  row(grid, "params", index, params);
  const hint = el("p", null, "param-hint");
  params.parentElement.insertBefore(hint, params.nextSibling);
  if (rule.group) {  // a group rule's grouping, as JSON: kept as read unless changed here
    const group = el("textarea");
    group.className = "f-group";
    group.value = JSON.stringify(rule.group);
    row(grid, "group", index, group);
  }
  const timeout = el("input");
  timeout.className = "f-timeout_s"; timeout.inputMode = "decimal";
  timeout.value = rule.timeout_s ?? 300;
  row(grid, "timeout_s", index, timeout);
  const python = el("input");
  python.className = "f-python";
  python.value = rule.python ?? "";
  row(grid, "python", index, python);
  set.append(grid, errorSpot(`rules.${index}`));
  const actions = el("div", null, "rule-actions");
  const drop = el("button", "Remove rule", "rule-drop");
  drop.type = "button";
  drop.addEventListener("click", () => {
    state.rules = readForm().rules.filter((_, i) => i !== index);
    renderRules();
  });
  actions.append(drop);
  set.append(actions);
  const pipelineInput = set.querySelector(".f-pipeline");
  const showHint = () => {
    const lines = parameterHints(state.pipelines[pipelineInput.value.trim()]);
    set.querySelector(".param-hint").textContent = lines.length ? "it takes: " + lines.join("; ") : "";
  };
  pipelineInput.addEventListener("input", showHint);
  showHint();
  set.querySelector(".f-name").addEventListener("input", (e) => { set.querySelector("legend").textContent = e.target.value || `rule ${index + 1}`; });
  return set;
}

function renderRules() {
  const box = $("rules");
  box.replaceChildren(...state.rules.map(ruleFieldset));
  if (!state.rules.length) box.append(el("p", "No rules: no scan is reduced.", "hint"));
  const editable = may();
  for (const control of $("rules-form").querySelectorAll("input, select, textarea, button")) control.disabled = !editable;
}

// The rules as the form holds them now (each over the rule as read), and what the page can tell is wrong.
function readForm() {
  const rules = [];
  const problems = [];
  document.querySelectorAll("fieldset.rule").forEach((set, index) => {
    const values = {};
    for (const key of [...TEXT_FIELDS, "timeout_s", "params", "group"]) {
      const control = set.querySelector(`.f-${key}`);
      if (control) values[key] = control.value;
    }
    values.when = [...set.querySelectorAll(".conditions li")].map((li) => ({
      key: li.querySelector(".c-key").value, op: li.querySelector(".c-op").value, value: li.querySelector(".c-value").value}));
    const made = ruleFromForm(state.rules[Number(set.dataset.index)], values, index);
    rules.push(made.rule);
    problems.push(...made.problems);
  });
  return {rules, problems};
}

function clearProblems() {
  for (const spot of document.querySelectorAll("#rules-form .field-error")) { spot.hidden = true; spot.textContent = ""; }
  for (const bad of document.querySelectorAll("#rules-form .invalid")) { bad.classList.remove("invalid"); bad.removeAttribute("aria-invalid"); }
}

// Each problem beside its field (or the nearest enclosing one: a condition, the rule, the form).
function showProblems(problems) {
  clearProblems();
  const places = new Set([...document.querySelectorAll("#rules-form .field-error")].map((s) => s.dataset.field));
  for (const p of problems) {
    const place = placeFor(p.field, places);
    const spot = document.querySelector(`#rules-form .field-error[data-field="${CSS.escape(place)}"]`);
    const inner = p.field.slice(place.length).replace(/^\./, "");
    const text = inner ? `${inner}: ${p.message}` : p.message;
    spot.textContent = spot.textContent ? `${spot.textContent}; ${text}` : text;
    spot.hidden = false;
    const control = document.querySelector(`#rules-form [data-field="${CSS.escape(place)}"]:not(.field-error)`);
    if (control && control.matches("input, select, textarea")) { control.classList.add("invalid"); control.setAttribute("aria-invalid", "true"); }
  }
}

function formMessage(text, bad = false) {
  $("form-msg").textContent = text;
  $("form-msg").classList.toggle("bad", bad);
}

// --- dry run and save ----------------------------------------------------------------------

async function dryRun() {
  const {rules, problems} = readForm();
  if (problems.length) { showProblems(problems); formMessage("Not tried: see the fields marked.", true); return; }
  try {
    const answer = await call("/api/reduction-rules/dry-run", send("POST", {rules}));
    clearProblems();
    formMessage("");
    $("dry-run-sentence").textContent = dryRunSentence(answer);
    const body = $("dry-run-table").tBodies[0];
    body.replaceChildren();
    for (const scan of answer.scans) {
      for (const m of scan.matches) {
        const tr = el("tr");
        tr.append(el("td", scan.datasetName || scan.pid), el("td", scan.beamline || ""), el("td", dateText(scan.creationTime)),
                  el("td", m.rule), el("td", m.file));
        body.append(tr);
      }
    }
    $("dry-run-panel").hidden = false;
  } catch (err) {
    refused(err, "Not tried");
  }
}

function refused(err, what) {
  if (err.status === 422) {
    showProblems(problemsOf(422, err.body));
    formMessage(`${what}: see the fields marked.`, true);
  } else {
    formMessage(`${what}: ${err.message}`, true);
  }
}

async function save(event) {
  event.preventDefault();
  const {rules, problems} = readForm();
  if (problems.length) { showProblems(problems); formMessage("Not saved: see the fields marked.", true); return; }
  try {
    const saved = await call("/api/reduction-rules", send("PUT", {revision: state.revision, rules}));
    clearProblems();
    take(saved);
    formMessage(`Saved as revision ${saved.revision}.`);
    await loadHistory();
  } catch (err) {
    if (err.status === 409) formMessage(`Not saved: ${err.message} Your edit is kept here.`, true);
    else refused(err, "Not saved");
  }
}

// --- history -------------------------------------------------------------------------------

async function loadHistory() {
  const answer = await call("/api/reduction-rules/revisions?limit=100");
  state.history = answer.data;
  const body = $("revisions").tBodies[0];
  body.replaceChildren();
  for (const r of state.history) {
    const tr = el("tr");
    tr.dataset.revision = String(r.revision);
    if (r.revision === state.revision) tr.className = "current";
    const actions = el("td");
    if (r.revision > 1) {
      const diff = el("button", "Diff", "rev-diff");
      diff.type = "button";
      diff.addEventListener("click", () => showDiff(r.revision - 1, r.revision));
      actions.append(diff, " ");
    }
    if (r.revision !== state.revision && may()) {
      const restore = el("button", "Restore", "rev-restore");
      restore.type = "button";
      restore.addEventListener("click", () => restoreRevision(r.revision));
      actions.append(restore);
    }
    tr.append(el("td", String(r.revision)), el("td", dateText(r.updatedAt)), el("td", r.updatedBy || ""),
              el("td", revisionLine(r)), actions);
    body.append(tr);
  }
  for (const [id, pick] of [["diff-from", state.history[1]], ["diff-to", state.history[0]]]) {
    const select = $(id);
    select.replaceChildren(...state.history.map((r) => new Option(String(r.revision), String(r.revision))));
    if (pick) select.value = String(pick.revision);
  }
  $("compare").hidden = state.history.length < 2;
}

async function showDiff(from, to) {
  const box = $("diff");
  try {
    const diff = await call(`/api/reduction-rules/diff?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
    const table = el("table");
    table.append(el("caption", `From revision ${from} to ${to}: ${diff.summary}`));
    const head = el("tr");
    for (const h of ["", "Rule", "Field", "Before", "After"]) head.append(el("th", h));
    table.append(head);
    for (const r of diffRows(diff)) {
      const tr = el("tr", null, `diff-${r.kind}`);
      tr.append(el("td", r.kind), el("td", r.rule), el("td", r.field), el("td", r.from, "from"), el("td", r.to, "to"));
      table.append(tr);
    }
    box.replaceChildren(table);
  } catch (err) {
    box.replaceChildren(el("p", `No diff: ${err.message}`, "field-error"));
  }
}

async function restoreRevision(number) {
  try {
    const saved = await call(`/api/reduction-rules/revisions/${number}/restore`, send("POST", {revision: state.revision}));
    take(saved);
    formMessage(`Revision ${number} restored as revision ${saved.revision}.`);
    await loadHistory();
  } catch (err) {
    formMessage(`Not restored: ${err.message}`, true);
  }
}

// --- the workers' pipelines: a graph of each, its steps and their parameters ------------------

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text != null) node.textContent = text;
  return node;
}

function pipelineGraph(pipeline) {
  const layout = pipelineLayout(pipeline);
  // Boxes as wide as the longest name (about 7.5 px a character at the graph's font size).
  const W = Math.max(150, Math.ceil(16 + 7.5 * Math.max(...layout.nodes.map((n) => n.label.length)))), H = 32, GX = 50, GY = 16;
  const at = (n) => ({x: 4 + n.column * (W + GX), y: 4 + n.row * (H + GY)});
  const graph = svg("svg", {class: "graph", role: "img", width: layout.columns * (W + GX) - GX + 8, height: layout.rows * (H + GY) - GY + 8,
                            "aria-label": `pipeline ${pipeline.name}: ` + layout.edges.map((e) => `${e.from} → ${e.to}`).join(", ")});
  const byId = Object.fromEntries(layout.nodes.map((n) => [n.id, n]));
  for (const e of layout.edges) {
    const a = at(byId[e.from]), b = at(byId[e.to]);
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x - 6, y2 = b.y + H / 2;
    graph.append(svg("path", {d: `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}`}),
                 svg("polygon", {points: `${x2},${y2 - 4} ${x2 + 6},${y2} ${x2},${y2 + 4}`}));
  }
  for (const n of layout.nodes) {
    const p = at(n);
    const g = svg("g", {"data-step": n.id});
    g.append(svg("rect", {x: p.x, y: p.y, width: W, height: H, rx: 4, class: n.id === "raw" ? "raw" : "step"}),
             svg("text", {x: p.x + 8, y: p.y + H / 2 + 4}, n.label));
    graph.append(g);
  }
  return graph;
}

function renderPipelines() {
  const list = $("pipeline-list");
  const all = Object.values(state.pipelines);
  $("pipeline-names").replaceChildren(...all.map((p) => new Option(p.description || p.name, p.name)));
  $("pipelines-note").textContent = all.length
    ? `As the reduction workers have them (written at each worker's start). A rule's parameters are {"step": {"parameter": value}}.`
    : "No reduction worker has described its pipelines yet (they do at start).";
  list.replaceChildren(...all.map((p) => {
    const box = el("div", null, "pipeline");
    box.dataset.pipeline = p.name;
    const graph = pipelineGraph(p);
    box.append(el("h3", `${p.name} v${p.version}`), el("p", p.description || "", "hint"), graph);
    const table = el("table", null, "steps");
    const head = el("tr");
    for (const h of ["Step", "Takes", "Parameter", "Description"]) head.append(el("th", h));
    table.append(head);
    for (const s of p.steps) {
      const params = s.parameters.length ? s.parameters : [null];
      params.forEach((param, i) => {
        const tr = el("tr");
        tr.append(el("td", i ? "" : `${s.name} v${s.version}`), el("td", i ? "" : s.inputs.join(", ")),
                  el("td", param ? parameterText(s.name, param) : "none"), el("td", param?.description || ""));
        table.append(tr);
      });
    }
    box.append(table);
    if (state.tryOn) box.append(previewPanel(p, candidates(state.tryOn, state.saved, p.name), state.saved, graph));
    return box;
  }));
}

async function loadPipelines() {
  try {
    state.pipelines = Object.fromEntries((await call("/api/pipelines")).map((p) => [p.name, p]));
    // The scans the pipeline view may try a pipeline on: those of the caller's newest the rules in use reduce.
    state.tryOn = await call("/api/reduction-rules/dry-run", send("POST", {rules: state.saved})).catch(() => null);
  } catch (err) {
    $("pipelines-note").textContent = `The pipelines cannot be read: ${err.message}`;
    return;
  }
  renderPipelines();
  // The hints of the rules shown (not drawn again: an edit begun meanwhile stays).
  for (const input of document.querySelectorAll("#rules .f-pipeline")) input.dispatchEvent(new Event("input"));
}

// --- start ---------------------------------------------------------------------------------

function take(answer) {
  state.revision = answer.revision;
  state.rules = answer.rules || [];
  state.saved = state.rules;
  if (answer.mayChange) state.mayChange = answer.mayChange;
  $("revision").textContent = state.revision ? `revision ${state.revision} by ${answer.updatedBy || "?"}, ${dateText(answer.updatedAt)}` : "no rules yet";
  const rights = state.mayChange.all ? "you may change every rule"
    : state.mayChange.beamlines.length ? `you may change the rules of beamline ${state.mayChange.beamlines.join(", ")}`
    : "you may read the rules; administrators and a beamline's staff change them";
  $("rights").textContent = rights;
  renderRules();
}

async function start() {
  if (tokenNotice) { $("notice").textContent = tokenNotice; $("notice").hidden = false; }
  $("add-rule").addEventListener("click", () => {
    state.rules = [...readForm().rules, blankRule(state.rules.length + 1)];
    renderRules();
  });
  $("dry-run").addEventListener("click", dryRun);
  $("rules-form").addEventListener("submit", save);
  $("diff-show").addEventListener("click", () => showDiff($("diff-from").value, $("diff-to").value));
  try {
    take(await call("/api/reduction-rules"));
    await Promise.all([loadHistory(), loadPipelines()]);
    status("");
  } catch (err) {
    status(err.status === 401 ? "Sign in to see the reduction rules (open this page with #token=…)." : `Not loaded: ${err.message}`);
  }
}

start();
