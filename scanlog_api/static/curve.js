// The detail view's plot of a derived dataset's curve: y over x with each point's uncertainty as
// an error bar (uPlot, vendored, a global script), read from the dataset's own CSV file through
// the downloads API (readers of the dataset only). The reading is curve-parts.js's.
import {auth, el} from "./session.js";
import {curveFile, parseCurve, yRange} from "./curve-parts.js";

let shown = null;  // {pid, curve}: for the tests, what the chart holds

// Whiskers at every point, from y - sigma to y + sigma, drawn on uPlot's canvas after its series.
function errorBars(sigma) {
  return (u) => {
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue("--muted").trim() || "gray";
    ctx.lineWidth = Math.max(1, devicePixelRatio);
    const cap = 3 * devicePixelRatio;
    ctx.beginPath();
    u.data[0].forEach((x, i) => {
      const cx = u.valToPos(x, "x", true);
      const lo = u.valToPos(u.data[1][i] - sigma[i], "y", true), hi = u.valToPos(u.data[1][i] + sigma[i], "y", true);
      ctx.moveTo(cx, lo); ctx.lineTo(cx, hi);
      ctx.moveTo(cx - cap, lo); ctx.lineTo(cx + cap, lo);
      ctx.moveTo(cx - cap, hi); ctx.lineTo(cx + cap, hi);
    });
    ctx.stroke();
    ctx.restore();
  };
}

// The section for the detail view: empty (nothing shown) unless the dataset has a curve.
export function derivedCurve(d) {
  const box = el("section");
  box.id = "curve";
  const path = curveFile(d);
  if (!path) { box.hidden = true; return box; }
  const note = el("p", "reading the curve…", "curve-note");
  const chart = el("div");
  box.append(el("h3", "Result"), note, chart);
  (async () => {
    try {
      const response = await fetch(`/api/downloads/file?pid=${encodeURIComponent(d.pid)}&path=${encodeURIComponent(path)}`, {headers: auth});
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new Error(typeof body.detail === "string" ? body.detail : response.statusText);
      }
      const curve = parseCurve(await response.text());
      note.textContent = `${curve.x.length} points of ${path.split("/").pop()}, each with its uncertainty (±1σ)`
        + (curve.skipped ? `; ${curve.skipped} rows without three numbers not shown` : "");
      const accent = getComputedStyle(document.documentElement).getPropertyValue("--accent").trim() || "#0969da";
      new uPlot({
        width: Math.max(360, Math.min(720, box.clientWidth || 560)), height: 260,
        scales: {x: {time: false, range: (u, lo, hi) => { const pad = (hi - lo) * 0.05 || 1; return [lo - pad, hi + pad]; }},
                 y: {range: () => yRange(curve)}},
        series: [{label: "x"}, {label: "y", stroke: accent, width: 1, points: {show: true, size: 6}}],
        axes: [{stroke: "gray"}, {stroke: "gray"}],
        hooks: {draw: [errorBars(curve.sigma)]},
      }, [curve.x, curve.y], chart);
      shown = {pid: d.pid, curve};
    } catch (err) {
      note.textContent = `The curve cannot be shown: ${err.message}`;
    }
  })();
  return box;
}

// Exposed for the tests: the curve the chart holds.
window.scanlogCurve = () => shown;
