// The filter as plain state, and every query string the page sends for it: a page of rows, the
// CSV, the live stream, the plot's selection. Pure (no DOM; the clock is passed in): node's tests
// import it.
//
// A filter: {range, since, until, proposal, beamline, q, minRating}, as the form holds them:
// range is "" (all), a number of hours back from now, or "custom" (then since and until are the
// form's local date-times, "" when empty). where: the condition builder's where texts
// (conditions.js), sent as the API takes them, one where parameter each.

/** The API path of a scan (and of what hangs under it): the pid is data, so it is encoded
 *  (a pid holding "?", "#" or "../" must not send the request elsewhere). */
export function scanPath(pid, rest = "") {
  return "/api/scans/" + encodeURIComponent(pid) + rest;
}

export const EMPTY_FILTER = {range: "", since: "", until: "", proposal: "", beamline: "", q: "", minRating: "", where: []};

// What a link may preset: ?proposal= and ?beamline= (a link to one proposal's scans), and the
// conditions (?where= repeated: a shared search).
export function filterFromSearch(search) {
  const params = new URLSearchParams(search);
  return {...EMPTY_FILTER, proposal: params.get("proposal") || "", beamline: params.get("beamline") || "",
          where: params.getAll("where")};
}

// The API's selection parameters for a filter (times as UTC ISO strings).
export function filterParams(f, now) {
  const q = new URLSearchParams();
  if (f.range === "custom") {
    if (f.since) q.set("since", new Date(f.since).toISOString());
    if (f.until) q.set("until", new Date(f.until).toISOString());
  } else if (f.range) {
    q.set("since", new Date(now - Number(f.range) * 3600e3).toISOString());
  }
  for (const [key, value] of [["proposal", f.proposal], ["beamline", f.beamline], ["q", f.q], ["min_rating", f.minRating]]) {
    if ((value || "").trim()) q.set(key, value.trim());
  }
  for (const w of f.where || []) q.append("where", w);
  return q;
}

// One page of rows: the filter, where the page starts, how it is sorted.
export function pageParams(f, {skip, limit, sort, order}, now) {
  const q = filterParams(f, now);
  q.set("skip", skip); q.set("limit", limit); q.set("sort", sort); q.set("order", order);
  return q;
}

// The live stream follows the proposal, the beamline and the conditions (the server filters by
// them: a new scan comes only if it matches); the page decides on the rest (matchesView). The
// time bound goes too: the server reads the conditions' units within it, and counts it against
// their bound on the scans searched, as for the table (without it a stream with conditions was
// refused where the table was answered).
export function streamParams(f, now) {
  const kept = new Set(["proposal", "beamline", "since", "where"]);
  return new URLSearchParams([...filterParams(f, now)].filter(([k]) => kept.has(k)));
}

// The CSV: the visible columns in their order, sorted as the table; the selected rows, or (pids
// null) the whole filter.
export function csvParams(f, {columns, sort, order, pids}, now) {
  const q = filterParams(f, now);
  q.set("columns", columns.join(",")); q.set("sort", sort); q.set("order", order);
  if (pids) q.set("pids", pids.join(","));
  return q;
}

// The plot reads the selection (or, pids null, the whole filter) oldest first, in pages.
export const SELECTION_PAGE = 500;
export function selectionParams(f, pids, skip, now) {
  const q = filterParams(f, now);
  q.set("sort", "creationTime"); q.set("order", "asc"); q.set("limit", SELECTION_PAGE);
  if (pids) q.set("pids", pids.join(","));
  q.set("skip", skip);
  return q;
}

// Whether a scan from the live stream belongs on the page as it is: only the first page, newest
// first, with no search or rating filter (a rating or a text match the page cannot judge).
export function matchesView(r, f, {skip, sort, order}) {
  const q = filterParams(f, 0);
  if (q.get("proposal") && r.proposal !== q.get("proposal")) return false;
  if (q.get("beamline") && r.beamline !== q.get("beamline")) return false;
  return skip === 0 && sort === "creationTime" && order === "desc" && !q.get("q") && !q.get("min_rating");
}
