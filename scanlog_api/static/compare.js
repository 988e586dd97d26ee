// "Compare results": the derived curves of the selected scans (or of the cart's) overlaid in one
// uPlot chart, one colour each, the legend naming each scan, each point with its ±1σ bar. What
// is compared, and how it is named, is compare-parts.js's; each curve is read as the detail view
// reads one (curve.js: the derived dataset's CSV through the downloads API, readers only).
import {$, api, el, status} from "./session.js";
import {curveFile, yRange} from "./curve-parts.js";
import {errorBars, fetchCurve, paddedX} from "./curve.js";
import {COLOURS, compareNote, comparedPids, derivedOf, scanName} from "./compare-parts.js";
import {scanPath} from "./query.js";

let shown = null;  // {series: [{pid, derived, name, colour, points}], note}: for the tests
let chart = null;

const detailOf = async (pid) => (await api(scanPath(pid))).json();

// One scan's curve, or why there is none (a sentence for the note).
async function resultOf(pid) {
  let scan;
  try { scan = await detailOf(pid); } catch (err) { return {name: pid, why: err.message}; }
  const name = scanName(scan);
  const derivedPid = derivedOf(scan);
  if (!derivedPid) return {name, why: "no reduction result yet"};
  try {
    const derived = derivedPid === scan.pid ? scan : await detailOf(derivedPid);
    const path = curveFile(derived);
    if (!path) return {name, why: "its result has no curve file"};
    return {name, pid, derived: derivedPid, curve: await fetchCurve(derivedPid, path)};
  } catch (err) { return {name, why: err.message}; }
}

async function compare(pids) {
  if (!pids.length) { status("select scans (or fill the cart) to compare their results"); return; }
  const {pids: chosen, left} = comparedPids(pids);
  const note = $("compare-note"), box = $("compare-chart");
  chart?.destroy(); chart = null; shown = null;
  box.replaceChildren();
  note.textContent = `reading ${chosen.length} result${chosen.length === 1 ? "" : "s"}…`;
  if (!$("compare").open) $("compare").showModal();
  const results = await Promise.all(chosen.map(resultOf));
  const found = results.filter((r) => r.curve && r.curve.x.length);
  const missing = results.filter((r) => !r.curve).concat(results.filter((r) => r.curve && !r.curve.x.length)
                                                                  .map((r) => ({name: r.name, why: "its curve has no points"})));
  const text = compareNote(found.length, missing, left);
  note.textContent = text;
  const colours = found.map((_, k) => COLOURS[k % COLOURS.length]);
  // One x axis for all: uPlot.join aligns the curves' points (null where a curve has no point).
  const joined = found.length ? uPlot.join(found.map((r) => [r.curve.x, r.curve.y, r.curve.sigma])) : [[]];
  const ys = found.map((_, k) => joined[1 + 2 * k]), sigmas = found.map((_, k) => joined[2 + 2 * k]);
  shown = {series: found.map((r, k) => ({pid: r.pid, derived: r.derived, name: r.name, colour: colours[k],
                                          points: r.curve.x.length})), note: text};
  if (!found.length) return;
  const all = {y: found.flatMap((r) => r.curve.y), sigma: found.flatMap((r) => r.curve.sigma)};
  chart = new uPlot({
    width: Math.max(360, Math.min(860, box.clientWidth || 720)), height: 340,
    scales: {x: {time: false, range: paddedX}, y: {range: () => yRange(all)}},
    series: [{label: "x"}, ...found.map((r, k) => ({label: r.name, stroke: colours[k], width: 1, spanGaps: true,
                                                   points: {show: true, size: 5, stroke: colours[k]}}))],
    axes: [{stroke: "gray"}, {stroke: "gray"}],
    hooks: {draw: [errorBars(sigmas, colours)]},
  }, [joined[0], ...ys], box);
}

// selected(): the pids the table has selected.
export function setupCompare(selected) {
  $("compare-selected").addEventListener("click", () => compare([...selected()]));
  $("compare-cart").addEventListener("click", async () => {
    try { compare((await (await api("/api/cart")).json()).data); }
    catch (err) { status("the cart cannot be read: " + err.message); }
  });
  $("close-compare").addEventListener("click", () => { $("compare").close(); chart?.destroy(); chart = null; });
}

// Exposed for the tests: what the comparison plots.
window.scanlogCompare = () => shown;
