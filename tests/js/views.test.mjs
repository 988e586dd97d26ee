// views.js: the page's state <-> a saved view, the address that opens one, the picker.
import test from "node:test";
import assert from "node:assert/strict";
import {readFileSync} from "node:fs";
import {
  BROWSER_SEARCH, DEFAULT_ENTRY, DEFAULT_MARK, asksNothing, columnsOfView, defaultChange, defaultView, filterOfView, nameProblem,
  pickerEntries, saveTarget, sortOfView, viewBody,
  viewIdFromSearch, viewSearch,
} from "../../scanlog_api/static/views.js";
import {DEFAULT_COLUMNS} from "../../scanlog_api/static/columns.js";
import {filterFromSearch} from "../../scanlog_api/static/query.js";

const PAGE = {columns: ["scan_id", "meta:photon_energy"], sort: {key: "meta:photon_energy", order: "asc"},
              filter: {range: "24", since: "2026-12-01T10:00", until: "", proposal: " P1 ", beamline: "bl1", q: "ni",
                       minRating: "1.5", where: ["photon_energy:between:8:10:keV", "t:lt:20:K"]}};

test("a view holds the columns, the conditions, the other filters and the sort", () => {
  const body = viewBody(" cold ", PAGE, " P1 ");
  assert.deepEqual(body, {
    name: "cold", columns: ["scan_id", "meta:photon_energy"], where: ["photon_energy:between:8:10:keV", "t:lt:20:K"],
    filters: {proposal: "P1", beamline: "bl1", range: "24", since: "", until: "", q: "ni", minRating: "1.5"},
    sort: {key: "meta:photon_energy", order: "asc"}, sharedWith: "P1"});
  assert.equal(viewBody("x", PAGE).sharedWith, null);
  // A custom range keeps its times; the body is a copy, not the page's own arrays.
  const custom = viewBody("x", {...PAGE, filter: {...PAGE.filter, range: "custom"}});
  assert.equal(custom.filters.since, "2026-12-01T10:00");
  custom.columns.push("title");
  assert.equal(PAGE.columns.length, 2);
});

test("opening a view gives back what was saved, through the address", () => {
  const saved = {id: "abc", ...viewBody("cold", PAGE)};
  const search = viewSearch(saved);
  assert.equal(viewIdFromSearch(search), "abc");
  assert.equal(viewIdFromSearch("?where=x"), "");
  const preset = filterFromSearch(search);  // what the page reads from the address
  assert.deepEqual([preset.proposal, preset.beamline, preset.where], ["P1", "bl1", PAGE.filter.where]);
  assert.deepEqual(filterOfView(saved), {...PAGE.filter, proposal: "P1", since: ""});
  assert.deepEqual(columnsOfView(saved), PAGE.columns);
  assert.deepEqual(sortOfView(saved), PAGE.sort);
});

test("a view with odd parts opens as far as it can, never with something made up", () => {
  assert.deepEqual(columnsOfView({columns: []}), DEFAULT_COLUMNS);
  assert.deepEqual(columnsOfView({columns: ["title", "title", 3]}), ["title"]);
  assert.deepEqual(sortOfView({}), {key: "creationTime", order: "desc"});
  assert.deepEqual(filterOfView({filters: {q: 5}, where: "x"}).where, []);
  assert.equal(filterOfView({filters: {q: 5}}).q, "");
});

test("names are checked before they are sent", () => {
  assert.match(nameProblem("  "), /name/);
  assert.match(nameProblem("x".repeat(81)), /80/);
  assert.equal(nameProblem("cold"), "");
});

test("the picker: this browser's columns first, then mine, then shared with me; the default says so", () => {
  const views = [{id: "1", name: "cold", mine: true, sharedWith: null}, {id: "2", name: "hot", mine: false, owner: "bob", sharedWith: "P1"},
                 {id: "3", name: "warm", mine: true, sharedWith: "P1"}];
  // None chosen on the server: this browser's layout is the default, however many are saved.
  assert.deepEqual(pickerEntries(views), [[DEFAULT_ENTRY, "this browser's columns (default)"], ["1", "cold"],
                                          ["3", "warm (shared with P1)"], ["2", "hot · bob, P1"]]);
  assert.deepEqual(pickerEntries([]), [[DEFAULT_ENTRY, "this browser's columns (default)"]]);
  const shared = views.map((v) => ({...v, default: v.id === "2"}));
  assert.deepEqual(pickerEntries(shared), [[DEFAULT_ENTRY, "this browser's columns"], ["1", "cold"],
                                           ["3", "warm (shared with P1)"], ["2", "hot · bob, P1" + DEFAULT_MARK]]);
  assert.equal(defaultView(shared).id, "2");
  assert.equal(defaultView(views), null);
});

test("the default view opens only when the address asks for nothing", () => {
  assert.equal(asksNothing(""), true);
  assert.equal(asksNothing("?"), true);
  // The picker's first entry asks for this browser's own layout, default or not.
  for (const search of ["?view=1", BROWSER_SEARCH, "?where=a:eq:1", "?proposal=P1", "?beamline=bl1"]) {
    assert.equal(asksNothing(search), false, search);
  }
});

test("making the picked entry the default: a view is pointed at, the browser's layout clears it", () => {
  const views = [{id: "1", name: "cold", mine: true}, {id: "2", name: "hot", mine: false}];
  assert.deepEqual(defaultChange(views, "2"), {method: "PUT", path: "/api/views/default", body: {id: "2"}});
  assert.equal(defaultChange(views, DEFAULT_ENTRY), null);  // the browser's layout is the default already
  const chosen = views.map((v) => ({...v, default: v.id === "2"}));
  assert.equal(defaultChange(chosen, "2"), null);
  assert.deepEqual(defaultChange(chosen, "1"), {method: "PUT", path: "/api/views/default", body: {id: "1"}});
  assert.deepEqual(defaultChange(chosen, DEFAULT_ENTRY), {method: "DELETE", path: "/api/views/default", body: null});
  assert.equal(defaultChange(chosen, "unknown"), null);
});

test("saving under a name of mine changes that view; any other name (or another's) is new", () => {
  const views = [{id: "a/1", name: "cold", mine: true}, {id: "2", name: "hot", mine: false}];
  assert.deepEqual(saveTarget(views, " cold "), {method: "PUT", path: "/api/views/a%2F1"});
  assert.deepEqual(saveTarget(views, "hot"), {method: "POST", path: "/api/views"});
});

test("views.js is pure: it imports only pure modules and uses no browser global", () => {
  const text = readFileSync(new URL("../../scanlog_api/static/views.js", import.meta.url), "utf8");
  const code = text.split("\n").filter((l) => !l.trim().startsWith("//")).join("\n");
  for (const [, from] of code.matchAll(/\bfrom\s+["']([^"']+)["']/g)) assert.ok(["./columns.js", "./query.js"].includes(from), from);
  assert.doesNotMatch(code, /\b(document|window|localStorage|sessionStorage|location|history|fetch)\b/);
});
