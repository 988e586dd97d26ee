// The "Views" picker in the bar: save the page as it is under a name (optionally shared with a
// proposal's group), open a view (through the address: views.js), delete one of one's own, make
// the picked entry the default (a view, or the browser's own layout). What a view holds and the
// address that opens it are views.js's; the table applies an opened view.
import {$, api, send} from "./session.js";
import {
  BROWSER_SEARCH, asksNothing, defaultChange, defaultView, nameProblem, pickerEntries, saveTarget, viewBody,
  viewIdFromSearch, viewSearch,
} from "./views.js";

let views = [];      // as /api/views answers: mine and those shared with my groups
let page = null;     // the table's side: {current() -> {columns, filter, sort}}

function say(text) { $("v-msg").textContent = text; }
function chosen() { return views.find((v) => v.id === $("v-pick").value) || null; }

function fill(selected) {
  $("v-pick").replaceChildren(...pickerEntries(views).map(([value, text]) => new Option(text, value)));
  $("v-pick").value = views.some((v) => v.id === selected) ? selected : "";
  const v = chosen();
  $("v-delete").disabled = !(v && v.mine);
  $("v-default").disabled = defaultChange(views, $("v-pick").value) === null;
  $("v-name").value = v && v.mine ? v.name : $("v-name").value;
  $("v-share").value = v && v.mine ? v.sharedWith || "" : "";
}

async function refresh(selected) {
  views = (await (await api("/api/views")).json()).data;
  fill(selected);
}

async function save() {
  const name = $("v-name").value, problem = nameProblem(name);
  if (problem) { say(problem); return; }
  const target = saveTarget(views, name);
  try {
    const saved = await (await api(target.path, send(target.method, viewBody(name, page.current(), $("v-share").value)))).json();
    await refresh(saved.id);
    history.replaceState(null, "", location.pathname + viewSearch(saved) + location.hash);
    say(`saved “${saved.name}”` + (saved.sharedWith ? ` (shared with ${saved.sharedWith})` : ""));
  } catch (err) { say("not saved: " + err.message); }
}

async function remove() {
  const v = chosen();
  if (!v || !v.mine) return;
  try {
    await api("/api/views/" + encodeURIComponent(v.id), {method: "DELETE"});
    await refresh("");
    $("v-name").value = "";
    say(`deleted “${v.name}”`);
  } catch (err) { say("not deleted: " + err.message); }
}

// The picked entry opens by default from now on, on any computer the user signs in from.
async function makeDefault() {
  const picked = $("v-pick").value, change = defaultChange(views, picked);
  if (!change) return;
  try {
    await api(change.path, change.body ? send(change.method, change.body) : {method: change.method});
    await refresh(picked);
    const v = defaultView(views);
    say(v ? `“${v.name}” opens by default` : "this browser's columns open by default");
  } catch (err) { say("default not changed: " + err.message); }
}

// Opening a view is following its address: the page starts from it (columns, filters,
// conditions, sort), and the address can be bookmarked or sent to the proposal's group.
function open() {
  const v = chosen();
  location.assign(location.pathname + (v ? viewSearch(v) : BROWSER_SEARCH) + location.hash);
}

// The filter bar shows a view's filters (the conditions come from the address: the builder's).
export function showFilter(f) {
  const choose = (id, value, text) => {
    const select = $(id);
    if (value && ![...select.options].some((o) => o.value === value)) select.append(new Option(text, value));
    select.value = value;
  };
  choose("f-range", f.range, f.range + " hours");
  $("f-since").hidden = $("f-until").hidden = f.range !== "custom";
  $("f-since").value = f.since; $("f-until").value = f.until;
  $("f-proposal").value = f.proposal;
  choose("f-beamline", f.beamline, f.beamline);
  $("f-q").value = f.q;
  choose("f-rating", f.minRating, f.minRating);
}

// Signed in: the picker, and the view the address names (null when none, or not readable).
export async function setupViews(table) {
  page = table;
  if (!table.signedIn) { $("views").hidden = true; return null; }
  $("v-save").addEventListener("click", save);
  $("v-delete").addEventListener("click", remove);
  $("v-pick").addEventListener("change", open);
  $("v-default").addEventListener("click", makeDefault);
  $("v-name").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); save(); } });
  const id = viewIdFromSearch(location.search);
  try { await refresh(id); } catch (err) { say("cannot list views: " + err.message); }
  // An address that asks for nothing opens the user's default view, as picking it would (its
  // address: columns, filters, conditions, sort; reloading keeps it). The page is left at once,
  // so nothing of this one goes on. A default no longer readable is not listed: the browser's
  // layout stays, quietly.
  const start = defaultView(views);
  if (!id && start && asksNothing(location.search)) {
    location.replace(location.pathname + viewSearch(start) + location.hash);
    return new Promise(() => {});
  }
  if (!id) return null;
  try {
    const v = await (await api("/api/views/" + encodeURIComponent(id))).json();
    say(v.mine ? "" : `${v.owner}'s view, shared with ${v.sharedWith}`);
    return v;
  } catch (err) { say("cannot open the view: " + err.message); return null; }
}
