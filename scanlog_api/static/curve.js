// The detail view's plot of a derived dataset's curve: y over x with each point's uncertainty as
// an error bar (uPlot, vendored, a global script), read from the dataset's own CSV file through
// the downloads API (readers of the dataset only). The reading is curve-parts.js's.
import {auth, el} from "./session.js";
import {curveFile, parseCurve, yRange} from "./curve-parts.js";

let shown = null;  // {pid, curve}: for the tests, what the chart holds

// Whiskers at every point, from y - sigma to y + sigma, drawn on uPlot's canvas after its series:
// sigmas[k] belongs to series k + 1 and is drawn in colours[k] (a point a series lacks, null
// where several curves share one x axis, has none).
export function errorBars(sigmas, colours) {
  return (u) => {
    const ctx = u.ctx;
    ctx.save();
    ctx.lineWidth = Math.max(1, devicePixelRatio);
    const cap = 3 * devicePixelRatio;
    sigmas.forEach((sigma, k) => {
      const ys = u.data[k + 1];
      ctx.strokeStyle = colours[k];
      ctx.beginPath();
      u.data[0].forEach((x, i) => {
        if (ys[i] == null || sigma[i] == null) return;
        const cx = u.valToPos(x, "x", true);
        const lo = u.valToPos(ys[i] - sigma[i], "y", true), hi = u.valToPos(ys[i] + sigma[i], "y", true);
        ctx.moveTo(cx, lo); ctx.lineTo(cx, hi);
        ctx.moveTo(cx - cap, lo); ctx.lineTo(cx + cap, lo);
        ctx.moveTo(cx - cap, hi); ctx.lineTo(cx + cap, hi);
      });
      ctx.stroke();
    });
    ctx.restore();
  };
}

// A dataset's curve, read from its CSV through the downloads API (readers of the dataset only);
// throws with the API's sentence when it refuses.
export async function fetchCurve(pid, path) {
  const response = await fetch(`/api/downloads/file?pid=${encodeURIComponent(pid)}&path=${encodeURIComponent(path)}`, {headers: auth});
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(typeof body.detail === "string" ? body.detail : response.statusText);
  }
  return parseCurve(await response.text());
}

// The x scale with a margin, as both plots draw it.
export const paddedX = (u, lo, hi) => { const pad = (hi - lo) * 0.05 || 1; return [lo - pad, hi + pad]; };

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
      const curve = await fetchCurve(d.pid, path);
      note.textContent = `${curve.x.length} points of ${path.split("/").pop()}, each with its uncertainty (±1σ)`
        + (curve.skipped ? `; ${curve.skipped} rows without three numbers not shown` : "");
      const muted = getComputedStyle(document.documentElement).getPropertyValue("--muted").trim() || "gray";
      const accent = getComputedStyle(document.documentElement).getPropertyValue("--accent").trim() || "#0969da";
      new uPlot({
        width: Math.max(360, Math.min(720, box.clientWidth || 560)), height: 260,
        scales: {x: {time: false, range: paddedX},
                 y: {range: () => yRange(curve)}},
        series: [{label: "x"}, {label: "y", stroke: accent, width: 1, points: {show: true, size: 6}}],
        axes: [{stroke: "gray"}, {stroke: "gray"}],
        hooks: {draw: [errorBars([curve.sigma], [muted])]},
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
