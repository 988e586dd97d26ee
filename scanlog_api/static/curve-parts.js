// A derived dataset's curve on plain data: which of its files holds it, and the curve read from
// that file (x, y and y's uncertainty), for the detail view's plot (curve.js). Pure.

// The most bytes of a curve file the page reads (a profile is a few KiB).
export const MAX_CURVE_BYTES = 5 * 1024 * 1024;

// The file holding a derived dataset's curve: a CSV of a dataset a reduction made (its recipe is
// in its metadata), small enough to read; null if it has none.
export function curveFile(detail) {
  if (!detail?.scientificMetadata?.recipe) return null;
  const found = (detail.files || []).find((f) => /\.csv$/i.test(f.path || "") && !(f.size > MAX_CURVE_BYTES));
  return found ? found.path : null;
}

// The curve in a CSV with a header naming x, y and sigma (any order, more columns ignored):
// {x, y, sigma, skipped} sorted by x (uPlot wants x ascending); a row without three numbers is
// skipped and counted, never read as zero. Throws with a sentence when the header lacks a column.
export function parseCurve(text) {
  const lines = String(text).split(/\r?\n/).filter((l) => l.trim() !== "");
  const head = (lines[0] || "").split(",").map((h) => h.trim().toLowerCase());
  const at = {x: head.indexOf("x"), y: head.indexOf("y"), sigma: head.indexOf("sigma")};
  const missing = Object.entries(at).filter(([, i]) => i < 0).map(([k]) => k);
  if (missing.length) throw new Error(`the curve file has no column ${missing.join(", ")} (its header: ${lines[0] || "empty"})`);
  const points = [];
  let skipped = 0;
  for (const line of lines.slice(1)) {
    const cells = line.split(",");
    const p = [at.x, at.y, at.sigma].map((i) => Number(cells[i]));
    if (p.every(Number.isFinite)) points.push(p); else skipped++;
  }
  points.sort((a, b) => a[0] - b[0]);
  return {x: points.map((p) => p[0]), y: points.map((p) => p[1]), sigma: points.map((p) => p[2]), skipped};
}

// The y range the plot must show: every point with its error bar.
export function yRange(curve) {
  if (!curve.y.length) return [0, 1];
  const lo = Math.min(...curve.y.map((y, i) => y - Math.abs(curve.sigma[i])));
  const hi = Math.max(...curve.y.map((y, i) => y + Math.abs(curve.sigma[i])));
  const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 1;
  return [lo - pad, hi + pad];
}
