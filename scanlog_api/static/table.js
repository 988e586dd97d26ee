// The scan table's page: its state (view) and what changes it. The parts, one job each:
//   pure (no DOM, unit-tested with node): format.js (cell text, units, dates), columns.js (which
//   columns, their order, headers, sorting, the stored layout), query.js (filter state -> the
//   API's query strings), events.js (the stream's events, a live row into the page),
//   publication.js (the publication form -> the API's body), conditions.js (a condition <-> the
//   API's where text, operators for a type, compatible units);
//   DOM: session.js (token, api), filters.js (the filter bar), builder.js (the condition
//   builder: key picker, operators, units, chips), grid.js (the table), detail.js,
//   detail-parts.js, stars.js, cart.js, plot.js, live.js (the stream); views.js (pure: a saved view
//   <-> the page's state and address) and views-ui.js (the Views picker); facets.js (the facets
//   panel) and facet-parts.js (pure: its query, labels, what a click narrows); compare.js ("Compare
//   results": the selection's derived curves overlaid) and compare-parts.js (pure: which, named how);
//   curve.js / curve-parts.js (a derived curve, read and drawn); fixity.js (pure: the files' checksums said).
import {$, api, signedIn, status, token, tokenNotice} from "./session.js";
import {add, addable, hide, metaColumns, move, nextSort, readLayout, saveLayout} from "./columns.js";
import {csvParams, filterFromSearch, filterParams, matchesView, pageParams, streamParams} from "./query.js";
import {mergeLive} from "./events.js";
import {FILTER_INPUTS, fillPickers, presetFilter, readFilter} from "./filters.js";
import {prependRow, renderBody, renderHead, replaceRow} from "./grid.js";
import {follow} from "./live.js";
import {searchWithWheres} from "./conditions.js";
import {addConditions, setKeys, setupConditions, showConditionError} from "./builder.js";
import {refreshFacets, setupFacets} from "./facets.js";
import {setupCart} from "./cart.js";
import {setupCompare} from "./compare.js";
import {redrawPlot, setupPlot} from "./plot.js";
import {columnsOfView, filterOfView, sortOfView} from "./views.js";
import {setupViews, showFilter} from "./views-ui.js";

const PAGE = 50;
const preset = filterFromSearch(location.search);  // read after session.js took any token out
if (tokenNotice) { $("notice").textContent = tokenNotice; $("notice").hidden = false; }
presetFilter(preset);

const view = {columns: [], units: {}, rows: [], total: 0, skip: 0, sort: {key: "creationTime", order: "desc"},
              selected: new Set(), lastClicked: null};
let user = null;
let reopen = () => {};  // the live stream's, once it is open  // whose layout this is (the name /api/me answers), null when not signed in
const paging = () => ({skip: view.skip, limit: PAGE, sort: view.sort.key, order: view.sort.order});
const allInFilter = () => $("select-all-filter").checked;

function setColumns(columns) {
  view.columns = columns;
  saveLayout(localStorage, user, columns);
  fillAddOptions();
  renderHead(view, on);
  renderBody(view, on);
}

function showSelected() {
  $("selected-count").textContent = allInFilter() ? "all " + view.total + " selected" : view.selected.size ? view.selected.size + " selected" : "";
}

// What a click in the table changes (grid.js draws, this decides).
const on = {
  sort(col) { view.sort = nextSort(col, view.sort); load(); },
  hide(col) { setColumns(hide(view.columns, col)); },
  move(from, to) { setColumns(move(view.columns, from, to)); },
  selection() { $("select-all-filter").checked = false; showSelected(); },
};

function showPage() {
  $("page").textContent = view.total ? `${view.skip + 1}–${view.skip + view.rows.length} of ${view.total}` : "no scans";
}

// A page of rows for the filter (by default the one in force); false when the API refused it.
// Its objection to a condition (422) is shown beside the builder and the rows shown stay.
async function load(filter = readFilter()) {
  try {
    const page = await (await api("/api/scans?" + pageParams(filter, paging(), Date.now()))).json();
    view.rows = page.data;
    view.total = page.count;
    showPage();
    status("updated " + new Date().toLocaleTimeString());
    renderHead(view, on);
    renderBody(view, on);
    return true;
  } catch (err) {
    if (err.status === 422 && filter.where.length) {
      showConditionError(err.message);
      status("the conditions were not applied: " + err.message);
    } else status("cannot load scans: " + err.message);
    return false;
  }
}

function fillAddOptions() {
  $("add-column").replaceChildren(...[["", "…"], ...addable(view.columns, view.units)].map(([v, t]) => new Option(t, v)));
}

// The metadata keys of the filter (with their units) are the columns one may add.
async function fillAddColumn() {
  let keys = {};
  try {
    keys = await (await api("/api/scans/keys?" + filterParams(readFilter(), Date.now()))).json();
  } catch (err) { keys = {}; }
  view.units = metaColumns(keys);
  setKeys(keys);
  fillAddOptions();
  renderHead(view, on);
}

function liveScan(r) {
  if (!matchesView(r, readFilter(), paging())) return;
  const merged = mergeLive(view.rows, view.total, r, PAGE);
  view.rows = merged.rows;
  view.total = merged.total;
  if (merged.at >= 0) replaceRow(view, merged.row, on); else prependRow(view, merged.row, on, PAGE);
  showPage();
  status("live · updated " + new Date().toLocaleTimeString());
}

function headerHeight() { document.documentElement.style.setProperty("--header-h", $("top").offsetHeight + "px"); }
window.addEventListener("resize", headerHeight);
headerHeight();

$("export-csv").addEventListener("click", async () => {
  if (!allInFilter() && !view.selected.size) { status("select rows to export"); return; }
  const q = csvParams(readFilter(), {columns: view.columns, sort: view.sort.key, order: view.sort.order,
                                     pids: allInFilter() ? null : [...view.selected]}, Date.now());
  try {
    const blob = await (await api("/api/scans.csv?" + q)).blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "scans.csv";
    document.body.appendChild(a); a.click(); a.remove();
  } catch (err) { status("export failed: " + err.message); }
});
$("select-all-filter").addEventListener("change", showSelected);
$("add-column").addEventListener("change", () => { if ($("add-column").value) setColumns(add(view.columns, $("add-column").value)); });
$("prev").addEventListener("click", () => { view.skip = Math.max(0, view.skip - PAGE); load(); });
$("next").addEventListener("click", () => { if (view.skip + PAGE < view.total) { view.skip += PAGE; load(); } });
$("f-range").addEventListener("change", () => { const custom = $("f-range").value === "custom"; $("f-since").hidden = $("f-until").hidden = !custom; view.skip = 0; load(); });
for (const id of FILTER_INPUTS) {
  $(id).addEventListener("change", () => { view.skip = 0; view.selected.clear(); load(); fillAddColumn(); });
}
document.addEventListener("scanlog:rated", () => { load(); refreshFacets(); });  // a rating given in the detail view

// The conditions: in force from the address (a shared search) on; a new set is tried first, and
// only once the API took it does it change the address, the keys, the plot and the live stream.
setupConditions(preset.where, {
  values: (key) => view.rows.map((r) => r.meta?.[key]?.value),
  apply: async (where) => {
    const skip = view.skip;
    view.skip = 0;
    const ok = await load({...readFilter(), where});
    if (!ok) view.skip = skip;
    return ok;
  },
  changed: () => {
    history.replaceState(null, "", location.pathname + searchWithWheres(location.search, readFilter().where) + location.hash);
    view.selected.clear(); showSelected();
    fillAddColumn(); redrawPlot(); reopen(); refreshFacets();
  },
});
setupCart(() => view.selected);
setupCompare(() => (allInFilter() ? view.rows.map((r) => r.pid) : view.selected));
setupPlot({units: () => view.units, filter: readFilter,
           pids: () => (!allInFilter() && view.selected.size ? [...view.selected] : null)});
for (const id of [...FILTER_INPUTS, "select-all-filter"]) $(id).addEventListener("change", redrawPlot);

// The layout is the user's: known once /api/me answered.
user = (await signedIn)?.user ?? null;
view.columns = readLayout(localStorage, user, token);  // the default view while none is saved
// A view the address names sets the columns, filters and sort (its conditions came with the address).
const opened = await setupViews({signedIn: user != null,
                                 current: () => ({columns: view.columns, filter: readFilter(), sort: view.sort})});
if (opened) { view.columns = columnsOfView(opened); view.sort = sortOfView(opened); showFilter(filterOfView(opened)); }
fillAddColumn();
fillPickers(preset);
// The facets beside the table: drawn for the selection, again whenever it changes.
setupFacets({filter: readFilter, addConditions}, [...FILTER_INPUTS, "f-range"]);
reopen = follow({params: () => streamParams(readFilter(), Date.now()), opened: load, scan: liveScan});
for (const id of ["f-proposal", "f-beamline"]) $(id).addEventListener("change", reopen);
