// A dataset's fixity (the fixity worker's summary, as the API gives it: state, problemCount and,
// in the detail, the first problems) as the page says it. Pure (no DOM): node's tests import it.

// The detail's files section: "checksums: ok", or how many problems and each listed one.
export function fixityText(f) {
  if (!f) return "checksums: not yet checked";
  const count = f.problemCount || 0;
  if (!count) return `checksums: ${f.state}` + (f.algorithm ? ` (${f.algorithm})` : "");
  const listed = (f.problems || []).map((p) => `${p.path} (${p.kind}${p.reason ? ": " + p.reason : ""})`);
  const more = count > listed.length ? `; and ${count - listed.length} more` : "";
  return `checksums: ${count} problem${count === 1 ? "" : "s"}` + (listed.length ? ": " + listed.join("; ") : "") + more;
}

// The row's small mark: null before the first check; a tick when every file checks; a warning
// with the count when files changed or went (flagged), a cross when a checksum differs (mismatch).
export function fixityMark(f) {
  if (!f) return null;
  const count = f.problemCount || 0;
  if (!count && f.state === "ok") return {text: "✓", state: "ok", title: "checksums: ok"};
  const sign = f.state === "mismatch" ? "✗" : "⚠";
  return {text: `${sign} ${count}`, state: f.state, title: `checksums: ${f.state}, ${count} problem${count === 1 ? "" : "s"}`};
}
