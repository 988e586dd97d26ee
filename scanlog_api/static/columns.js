// Column state: which columns the table shows, in which order, their headers and sorting, and the
// layout kept for each user. Pure (no DOM; storage is passed in): node's tests import it.

// The scan's own columns; any other is a metadata entry, "meta:<key>".
export const FIXED = {scan_id: "Scan", title: "Title", start: "Start", duration: "Duration", status: "Status",
                      files: "Files", rating: "Rating", public: "Public"};
// "Public" (published, or from when: an embargo's end) is one to add, not shown by default.
export const DEFAULT_COLUMNS = Object.keys(FIXED).filter((c) => c !== "public");

export function label(col) { return FIXED[col] || col.slice(5); }

// The API sorts by a column's id (meta:<key> included).
export function sortKey(col) { return col; }

// A header: its label, its unit in brackets, an arrow on the sorted column.
export function headerText(col, units, sort) {
  const arrow = sort.key === sortKey(col) ? (sort.order === "asc" ? " ▲" : " ▼") : "";
  return label(col) + (units[col] ? " [" + units[col] + "]" : "") + arrow;
}

// A click on a header sorts by it, newest (descending) first; a second click turns it round.
export function nextSort(col, sort) {
  const key = sortKey(col);
  return {key, order: sort.key === key && sort.order === "desc" ? "asc" : "desc"};
}

export function hide(columns, col) { return columns.filter((c) => c !== col); }
export function add(columns, col) { return col && !columns.includes(col) ? [...columns, col] : columns; }
export function move(columns, from, to) {
  const at = (i) => Number.isInteger(i) && i >= 0 && i < columns.length;  // a drop of something else is no move
  if (!at(from) || !at(to) || from === to) return columns;
  const out = [...columns];
  const [moved] = out.splice(from, 1);
  out.splice(to, 0, moved);
  return out;
}

// The metadata keys of the filter with their units (as /api/scans/keys answers), as columns.
export function metaColumns(keys) {
  const out = {};
  for (const [k, u] of Object.entries(keys || {})) out["meta:" + k] = u;
  return out;
}

// What "Add column" offers: every column not shown yet, the scan's own first.
export function addable(columns, units) {
  return [...Object.keys(FIXED), ...Object.keys(units)].filter((c) => !columns.includes(c)).map((c) => [c, label(c)]);
}

// What the plot offers: duration and every metadata column, labelled with its unit.
export function plotChoices(units) {
  return ["duration", ...Object.keys(units)].map((c) => [c, c === "duration" ? "Duration [s]" : label(c) + (units[c] ? " [" + units[c] + "]" : "")]);
}

// The layout is kept per user (the name /api/me answers), in the browser's localStorage. A
// token, or any piece of one, never goes into a storage key: storage outlives the token and
// can be read by anyone at the browser.
const LAYOUT = "scanlog-layout";
export function layoutKey(user) { return user ? `${LAYOUT}:user:${user}` : `${LAYOUT}:anonymous`; }

// A stored layout, or the default one when there is none or it is not a list of column ids
// (storage is the browser's: anything may be in it).
export function parseLayout(text) {
  let value;
  try { value = JSON.parse(text); } catch { return [...DEFAULT_COLUMNS]; }
  if (!Array.isArray(value) || !value.length || !value.every((c) => typeof c === "string" && c)) return [...DEFAULT_COLUMNS];
  return [...new Set(value)];
}

// Earlier pages kept the layout under the token's last 8 characters: it moves to the user's key
// once (when the user is known), and the key holding a piece of the token goes.
export function readLayout(storage, user, token) {
  const key = layoutKey(user);
  if (token && user) {
    const old = `${LAYOUT}:${token.slice(-8)}`;
    const kept = storage.getItem(old);
    if (kept != null) {
      if (storage.getItem(key) == null) storage.setItem(key, kept);
      storage.removeItem(old);
    }
  }
  return parseLayout(storage.getItem(key));
}

export function saveLayout(storage, user, columns) { storage.setItem(layoutKey(user), JSON.stringify(columns)); }
