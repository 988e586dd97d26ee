// "Compare results" on plain data: which scans of a selection are compared (a bound), which
// derived dataset holds each one's result, its colour and legend name, and what the note says.
// Pure (no DOM): node's tests import it; compare.js reads and draws.

// At most this many curves in one plot: more are not readable, and each costs three requests.
export const MAX_COMPARED = 10;

// Ten colours told apart by most eyes (Tableau 10), one per curve.
export const COLOURS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                        "#9c755f", "#bab0ac"];

// The first `max` pids of a selection (as given, duplicates once) and how many are left out.
export function comparedPids(pids, max = MAX_COMPARED) {
  const unique = [...new Set(pids || [])];
  return {pids: unique.slice(0, max), left: Math.max(0, unique.length - max)};
}

// The derived dataset whose curve stands for a scan: the scan itself when a reduction made it
// (its recipe is in its metadata), else the newest succeeded reduction's result; null if none.
export function derivedOf(detail) {
  if (!detail) return null;
  if (detail.scientificMetadata?.recipe) return detail.pid;
  const done = (detail.reductions || []).filter((j) => j.state === "succeeded" && j.derived);
  return done.length ? done[done.length - 1].derived : null;
}

// The legend's name of a scan: its number and title ("scan 12: Pt foil"), else its pid.
export function scanName(detail) {
  const title = (detail?.title || "").trim();
  const number = detail?.scan_id ? `scan ${detail.scan_id}` : "";
  return [number, title].filter(Boolean).join(": ") || String(detail?.pid ?? "");
}

// The line under the plot: what is shown, what is not and why, and the bound.
export function compareNote(shown, missing, left, max = MAX_COMPARED) {
  const parts = [shown ? `${shown} result${shown === 1 ? "" : "s"} overlaid, each point with its uncertainty (±1σ)` : "no result to show"];
  for (const m of missing) parts.push(`${m.name}: ${m.why}`);
  if (left) parts.push(`${left} more selected: at most ${max} are compared at once, the first ${max} are shown`);
  return parts.join("; ");
}
