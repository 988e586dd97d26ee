// The pipeline view's preview: pick one of your scans that a rule of this pipeline reduces,
// change a parameter, and see the new result's curve (uPlot, vendored) with the steps that ran
// and those read from the reduction worker's cache marked on the graph. Nothing is saved: a
// preview is asked for (POST /api/reduction-previews) and read until a worker has answered it.
import {auth, el, send} from "./session.js";
import {yRange} from "./curve-parts.js";
import {paramsOf, previewSentence, startingParams, stepMarks} from "./preview-parts.js";

const POLL_MS = 100;
const GIVE_UP_MS = 60_000;
let shown = null;  // for the tests: the last preview drawn {pipeline, pid, rule, params, curve, marks}

async function ask(path, options = {}) {
  const response = await fetch(path, {...options, headers: {...auth, ...(options.headers || {})}});
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof body.detail === "string" ? body.detail
      : Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : response.statusText;
    throw new Error(detail);
  }
  return body;
}

// Whiskers from y - sigma to y + sigma at every point, drawn after uPlot's series.
function errorBars(sigma) {
  return (u) => {
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue("--muted").trim() || "gray";
    ctx.lineWidth = Math.max(1, devicePixelRatio);
    ctx.beginPath();
    u.data[0].forEach((x, i) => {
      const cx = u.valToPos(x, "x", true);
      ctx.moveTo(cx, u.valToPos(u.data[1][i] - sigma[i], "y", true));
      ctx.lineTo(cx, u.valToPos(u.data[1][i] + sigma[i], "y", true));
    });
    ctx.stroke();
    ctx.restore();
  };
}

function plot(chart, curve) {
  const order = curve.x.map((_, i) => i).sort((a, b) => curve.x[a] - curve.x[b]);  // uPlot wants x ascending
  const sorted = {x: order.map((i) => curve.x[i]), y: order.map((i) => curve.y[i]), sigma: order.map((i) => curve.sigma[i])};
  const accent = getComputedStyle(document.documentElement).getPropertyValue("--accent").trim() || "#0969da";
  chart.replaceChildren();
  new uPlot({
    width: Math.max(320, Math.min(640, chart.clientWidth || 480)), height: 220,
    scales: {x: {time: false, range: (u, lo, hi) => { const pad = (hi - lo) * 0.05 || 1; return [lo - pad, hi + pad]; }},
             y: {range: () => yRange(sorted)}},
    series: [{label: "x"}, {label: "y", stroke: accent, width: 1, points: {show: true, size: 6}}],
    axes: [{stroke: "gray"}, {stroke: "gray"}],
    hooks: {draw: [errorBars(sorted.sigma)]},
  }, [sorted.x, sorted.y], chart);
}

function mark(graph, marks) {
  for (const g of graph.querySelectorAll("g[data-step]")) {
    const m = marks[g.dataset.step];
    g.classList.toggle("executed", m === "executed");
    g.classList.toggle("cached", m === "cached");
    g.querySelector("title")?.remove();
    if (m) g.prepend(Object.assign(document.createElementNS("http://www.w3.org/2000/svg", "title"),
                                   {textContent: m === "executed" ? "ran for this preview" : "read from the cache"}));
  }
}

// The preview panel of one pipeline: `choices` the (scan, rule) pairs to try it on, `rules` the
// rules in use (their parameters start the boxes), `graph` the pipeline's drawn graph (its steps marked).
export function previewPanel(pipeline, choices, rules, graph) {
  const box = el("div", null, "preview");
  box.append(el("h4", "Try it on a scan"));
  if (!choices.length) {
    box.append(el("p", "None of your newest scans is reduced by a rule of this pipeline.", "hint"));
    return box;
  }
  const pick = el("select", null, "pv-scan");
  pick.setAttribute("aria-label", "scan and rule");
  pick.append(new Option("— pick one of your scans —", ""));
  choices.forEach((c, i) => pick.append(new Option(c.label, String(i))));
  const label = el("label", "Scan ");
  label.append(pick);
  const fields = el("div", null, "pv-params");
  const note = el("p", "", "pv-status");
  note.setAttribute("role", "status");
  const chart = el("div", null, "pv-chart");
  box.append(label, fields, note, chart);
  let boxes = [];
  let asked = 0;  // the newest request: an older answer arriving late is not drawn
  let timer = null;

  function fill() {
    if (pick.value === "") { fields.replaceChildren(); boxes = []; return; }
    const choice = choices[Number(pick.value)];
    const rule = rules.find((r) => r.name === choice.rule);
    boxes = startingParams(pipeline, rule).map((p) => {
      const input = el("input", null, "pv-param");
      input.value = p.text;
      input.dataset.param = `${p.step}.${p.name}`;
      input.inputMode = p.type === "integer" || p.type === "number" ? "decimal" : "text";
      input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(run, 250); });
      const l = el("label", `${p.step}.${p.name} `);
      l.append(input);
      return {...p, input, label: l};
    });
    fields.replaceChildren(...boxes.map((b) => b.label));
  }

  async function run() {
    if (pick.value === "") return;
    const choice = choices[Number(pick.value)];
    const params = paramsOf(boxes.map((b) => ({...b, text: b.input.value})));
    const mine = ++asked;
    const started = performance.now();
    note.textContent = "Asking a reduction worker…";
    try {
      let preview = await ask("/api/reduction-previews", send("POST", {pid: choice.pid, rule: choice.rule, params}));
      while (["queued", "running"].includes(preview.state) && performance.now() - started < GIVE_UP_MS) {
        await new Promise((r) => setTimeout(r, POLL_MS));
        if (mine !== asked) return;
        preview = await ask(`/api/reduction-previews/${encodeURIComponent(preview.id)}`);
      }
      if (mine !== asked) return;
      if (["queued", "running"].includes(preview.state)) {
        note.textContent = "No reduction worker answered in a minute: are the workers running?";
        return;
      }
      note.textContent = previewSentence(preview, performance.now() - started);
      if (preview.state !== "done") return;
      const marks = stepMarks(preview);
      mark(graph, marks);
      plot(chart, preview.result);
      shown = {pipeline: pipeline.name, pid: choice.pid, rule: choice.rule, params, curve: preview.result, marks};
    } catch (err) {
      if (mine === asked) note.textContent = `No preview: ${err.message}`;
    }
  }

  // A scan picked: first as its rule reduces it (which steps its cache holds), then as changed.
  pick.addEventListener("change", () => { fill(); run(); });
  return box;
}

// Exposed for the tests: the last preview drawn.
window.scanlogPreview = () => shown;
