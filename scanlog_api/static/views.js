// Saved views: the page's state (columns, filter with its conditions, sort) <-> a view as the API
// keeps it (/api/views), the address that opens one, and the picker's entries. Pure (no DOM, no
// browser global): node's tests import it.
//
// A view opens through the address (?view=<id>, with its conditions as where= and its proposal
// and beamline), so an opened view is a link like any shared search, and reloading keeps it.
// The user's default view (kept on the server: /api/views marks it) opens the same way when the
// address asks for nothing else; without one, the browser's own layout is the default.

import {DEFAULT_COLUMNS} from "./columns.js";
import {filterFromSearch} from "./query.js";

export const MAX_NAME = 80;
const FILTER_KEYS = ["proposal", "beamline", "range", "since", "until", "q", "minRating"];

// The API's body for the page as it is: the filter bar's values (trimmed), its conditions, the
// columns in order and the sort; sharedWith a proposal id, or null (private).
export function viewBody(name, {columns, filter, sort}, sharedWith = "") {
  const filters = {};
  for (const k of FILTER_KEYS) filters[k] = String(filter[k] ?? "").trim();
  if (filters.range !== "custom") filters.since = filters.until = "";
  return {name: String(name).trim(), columns: [...columns], where: [...(filter.where || [])], filters,
          sort: {key: sort.key, order: sort.order}, sharedWith: String(sharedWith || "").trim() || null};
}

// What is wrong with a name before it is sent ("" when nothing).
export function nameProblem(name) {
  const n = String(name || "").trim();
  if (!n) return "give the view a name";
  if (n.length > MAX_NAME) return `a view's name has at most ${MAX_NAME} characters`;
  return "";
}

// The filter (query.js's shape) a view sets.
export function filterOfView(view) {
  const f = view.filters || {};
  const out = {};
  for (const k of FILTER_KEYS) out[k] = typeof f[k] === "string" ? f[k] : "";
  return {...out, where: Array.isArray(view.where) ? [...view.where] : []};
}

// The columns a view sets (the default ones when it holds none the page can show).
export function columnsOfView(view) {
  const cols = Array.isArray(view.columns) ? view.columns.filter((c) => typeof c === "string" && c) : [];
  return cols.length ? [...new Set(cols)] : [...DEFAULT_COLUMNS];
}

export function sortOfView(view) {
  const s = view.sort || {};
  return {key: typeof s.key === "string" && s.key ? s.key : "creationTime", order: s.order === "asc" ? "asc" : "desc"};
}

// The address's query that opens a view.
export function viewSearch(view) {
  const q = new URLSearchParams();
  q.set("view", view.id);
  const f = filterOfView(view);
  if (f.proposal) q.set("proposal", f.proposal);
  if (f.beamline) q.set("beamline", f.beamline);
  for (const w of f.where) q.append("where", w);
  return "?" + q.toString();
}

// The view the address names, or "".
export function viewIdFromSearch(search) { return new URLSearchParams(search).get("view") || ""; }

// Whether the address asks for nothing (no view, no condition, no filter it presets): only then
// does the user's default view open. What the address presets is query.js's to say.
// An empty view= (BROWSER_SEARCH: the picker's first entry) asks for this browser's own layout.
export const BROWSER_SEARCH = "?view=";
export function asksNothing(search) {
  if (new URLSearchParams(search).has("view")) return false;
  const asked = filterFromSearch(search), none = filterFromSearch("");
  return !asked.where.length && Object.keys(none).every((k) => k === "where" || asked[k] === none[k]);
}

// The user's default view among those listed (only a view they may still read is listed), or null.
export function defaultView(views) { return views.find((v) => v.default) || null; }

// The picker's entries: the browser's own layout first, then the user's views, then those shared
// with them (whose, and with which proposal); the default one (the browser's layout when the
// user has chosen none) says so.
export const DEFAULT_ENTRY = "";
export const DEFAULT_MARK = " — default";
export function pickerEntries(views) {
  const own = views.filter((v) => v.mine), shared = views.filter((v) => !v.mine);
  const mark = (v, text) => (v.default ? text + DEFAULT_MARK : text);
  return [[DEFAULT_ENTRY, defaultView(views) ? "this browser's columns" : "this browser's columns (default)"],
          ...own.map((v) => [v.id, mark(v, v.sharedWith ? `${v.name} (shared with ${v.sharedWith})` : v.name)]),
          ...shared.map((v) => [v.id, mark(v, `${v.name} · ${v.owner}, ${v.sharedWith}`)])];
}

// Making the picked entry the default: a view is pointed at (PUT), the browser's layout clears
// the user's default (DELETE); null when it is the default already.
export function defaultChange(views, picked) {
  const current = defaultView(views);
  if (picked === DEFAULT_ENTRY) return current ? {method: "DELETE", path: "/api/views/default", body: null} : null;
  if (current && current.id === picked) return null;
  return views.some((v) => v.id === picked) ? {method: "PUT", path: "/api/views/default", body: {id: picked}} : null;
}

// Saving under a name: the user's view of that name is changed (PUT), else a new one (POST).
export function saveTarget(views, name) {
  const n = String(name || "").trim();
  const mine = views.find((v) => v.mine && v.name === n);
  return mine ? {method: "PUT", path: "/api/views/" + encodeURIComponent(mine.id)} : {method: "POST", path: "/api/views"};
}
