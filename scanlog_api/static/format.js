// How a value reads on the page: cells, units, sizes, dates. Pure (no DOM): node's tests import it.

export function valueText(v) { return v == null ? "" : Array.isArray(v) ? v.join(", ") : typeof v === "object" ? JSON.stringify(v) : String(v); }

// pint's SI values and units, for reading: 6 significant digits, powers and products as written.
export function siText(v) { return typeof v === "number" ? String(Number(v.toPrecision(6))) : valueText(v); }
// pint's spelling ("kg*m**2/s**2", older scans' unitSI and typed units) and SciCat's (mathjs: "(kg m^2) / s^2").
export function unitText(u) { return String(u).replace(/(\*\*|\^)2(?![\d.])/g, "²").replace(/(\*\*|\^)3(?![\d.])/g, "³").replace(/\*\*(-?\d+)/g, "^$1").replace(/\*/g, "·"); }
export function sameUnit(a, b) { return (a || "").replace(/\s/g, "") === (b || "").replace(/\s/g, ""); }

// Bytes in decimal units, one decimal above a kB.
export function sizeText(n) {
  if (n == null) return "";
  const units = ["B", "kB", "MB", "GB", "TB"]; let i = 0; let v = Number(n);
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i += 1; }
  return (i ? v.toFixed(1) : String(v)) + " " + units[i];
}

// A stored time in the reader's own time zone and way of writing dates.
export function dateText(at) { return at ? new Date(at).toLocaleString() : ""; }

// A row's cell as text: the scan's own fields, or a metadata entry (meta:<key>) with its unit.
export function cellText(col, r) {
  if (col === "start") return dateText(r.start);
  if (col === "duration") return r.duration == null ? "" : Number(r.duration).toFixed(1) + " s";
  if (col === "public") return r.public ? "yes" : r.public_from ? `from ${dateText(r.public_from)}` : "no";
  if (col.startsWith("meta:")) {
    const m = r.meta?.[col.slice(5)];
    if (!m || m.value == null) return "";
    const v = valueText(m.value);
    return m.unit ? v + " " + m.unit : v;
  }
  const v = r[col];
  return v == null ? "" : String(v);
}

// A cell as a number to plot, or null where it holds none (text, a list, unreadable).
export function numberOf(col, r) {
  const v = col === "duration" ? r.duration : r.meta?.[col.slice(5)]?.value;
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}
