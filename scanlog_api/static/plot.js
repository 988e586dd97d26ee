// The plot: one numeric column over the selection (uPlot, vendored from npm, a global script).
// A click on a point opens its scan.
import {$, api} from "./session.js";
import {showDetail} from "./detail.js";
import {dateText, numberOf} from "./format.js";
import {plotChoices} from "./columns.js";
import {SELECTION_PAGE, selectionParams} from "./query.js";

const PLOT_MAX = 5000;  // points; the selection is read in pages of SELECTION_PAGE
let plot = null, plotRows = [], plotColumn = null, plotDrawn = 0;
let page = null;  // the table's side: {units(), filter(), pids() (null: the whole filter)}

async function selectionRows() {
  const f = page.filter(), pids = page.pids(), now = Date.now(), out = [];
  for (let at = 0; at < PLOT_MAX; at += SELECTION_PAGE) {
    const got = await (await api("/api/scans?" + selectionParams(f, pids, at, now))).json();
    out.push(...got.data);
    if (got.data.length < SELECTION_PAGE) return [out, got.count];
  }
  return [out, null];
}

async function drawPlot() {
  const col = $("plot-y").value, byTime = $("plot-x").value === "time", units = page.units();
  if (!col) { $("plot-note").textContent = "no numeric column in this selection"; return; }
  const drawing = ++plotDrawn;  // a later draw (another column, a new filter) wins over this one
  let all, count;
  try { [all, count] = await selectionRows(); } catch (err) { $("plot-note").textContent = "cannot read the selection: " + err.message; return; }
  if (drawing !== plotDrawn) return;
  plotColumn = col + (byTime ? "@time" : "@scan");
  plotRows = all.filter((r) => numberOf(col, r) != null);
  const xs = plotRows.map((r, i) => byTime ? Date.parse(r.start) / 1000 : (Number.isFinite(Number(r.scan_id)) ? Number(r.scan_id) : i + 1));
  if (!byTime) {  // scan numbers need not be in time order: uPlot wants x ascending
    const order = xs.map((x, i) => i).sort((a, b) => xs[a] - xs[b]);
    plotRows = order.map((i) => plotRows[i]);
    xs.sort((a, b) => a - b);
  }
  const ys = plotRows.map((r) => numberOf(col, r));
  const what = page.pids() ? "selected scans" : "scans in the filter";
  $("plot-note").textContent = `${plotRows.length} ${what} with a value` + (count == null ? ` (the first ${PLOT_MAX})` : "");
  const name = plotChoices(units).find(([c]) => c === col)?.[1] || col;
  const width = Math.max(400, $("plot-panel").clientWidth - 20);
  plot?.destroy();
  plot = new uPlot({
    width, height: 280, scales: {x: {time: byTime}},
    series: [{label: byTime ? "time" : "scan"}, {label: name, stroke: getComputedStyle(document.documentElement).getPropertyValue("--accent").trim() || "#0969da",
              points: {show: true, size: 6}, width: 1}],
    axes: [{stroke: "gray"}, {stroke: "gray"}],
    hooks: {setCursor: [(u) => {
      const i = u.cursor.idx;
      $("plot-hover").textContent = i == null ? "" : `scan ${plotRows[i].scan_id}: ${ys[i]}${units[col] ? " " + units[col] : ""} · ${dateText(plotRows[i].start)}`;
    }]},
  }, [xs, ys], $("plot"));
  plot.over.addEventListener("click", () => { const i = plot.cursor.idx; if (i != null) showDetail(plotRows[i].pid); });
}

function fillPlotColumns() {
  const select = $("plot-y"), keep = select.value;
  select.replaceChildren(...plotChoices(page.units()).map(([c, t]) => new Option(t, c)));
  if (keep && [...select.options].some((o) => o.value === keep)) select.value = keep;
}

// Redrawn when the selection or the filter changed, if the plot is open.
export function redrawPlot() { if (!$("plot-panel").hidden) { fillPlotColumns(); drawPlot(); } }

export function setupPlot(table) {
  page = table;
  $("open-plot").addEventListener("click", () => {
    const panel = $("plot-panel");
    panel.hidden = !panel.hidden;
    $("open-plot").setAttribute("aria-expanded", String(!panel.hidden));
    redrawPlot();
  });
  for (const id of ["plot-y", "plot-x"]) $(id).addEventListener("change", drawPlot);
}

// Exposed for the tests: what the chart holds, read back from uPlot itself.
window.scanlogPlot = () => plot && {column: plotColumn, x: [...plot.data[0]], y: [...plot.data[1]], pids: plotRows.map((r) => r.pid)};
window.scanlogPlotPoint = (i) => {  // where point i is on the page
  const box = plot.over.getBoundingClientRect();
  return {x: box.left + plot.valToPos(plot.data[0][i], "x"), y: box.top + plot.valToPos(plot.data[1][i], "y")};
};
