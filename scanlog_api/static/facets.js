// The facets panel beside the table: how many of the selection's scans there are per beamline,
// proposal, status and rating, and for the keys the user adds a histogram (numbers, in a unit of
// their choice) or the top values (text). A click on a value narrows the selection (facet-parts.js
// says how); the panel is drawn again whenever the selection changes (refreshFacets). Text only,
// through textContent; bars are <meter>s (no inline style under the page's CSP).
import {$, api, el} from "./session.js";
import {barNarrowing, binLabel, countedNote, facetParams, narrowing, valueLabel, withKey} from "./facet-parts.js";
import {compatibleUnits} from "./conditions.js";

let keys = [];       // [{key, unit}] the user added
let page = null;     // the table's side: {filter(), addConditions(wheres) -> ok}
let asked = 0;       // the latest request: an older answer arriving late is dropped

function showError(text) { $("facet-error").textContent = text; $("facet-error").hidden = !text; }

// One clickable value: its label, a bar of its share, its count.
function valueButton(label, count, most, narrow, title) {
  const b = el("button", null, "facet-v");
  b.type = "button";
  const bar = document.createElement("meter");
  bar.min = 0; bar.max = most || 1; bar.value = count;
  b.append(el("span", label, "facet-label"), bar, el("span", String(count), "n"));
  if (narrow) { b.title = title; b.addEventListener("click", () => apply(narrow)); } else b.disabled = true;
  return b;
}

// A filter set as if the user had picked it (the table loads on the input's change).
const FILTER_IDS = {beamline: "f-beamline", proposal: "f-proposal", minRating: "f-rating"};
function setFilter(name, value) {
  const input = $(FILTER_IDS[name]);
  if (input.tagName === "SELECT" && ![...input.options].some((o) => o.value === value)) input.append(new Option(value, value));
  input.value = value;
  input.dispatchEvent(new Event("change"));
}

async function apply(narrow) {
  if (narrow.filter) {
    for (const [name, value] of Object.entries(narrow.filter)) setFilter(name, value);
  } else if (narrow.where && !(await page.addConditions(narrow.where))) {
    showError("the condition was not applied (see beside the builder)");
  }
}

function section(title, ...children) {
  const s = el("section", null, "facet");
  s.append(el("h3", title), ...children);
  return s;
}

function list(name, facet) {
  const most = Math.max(0, ...facet.values.map((v) => v.count));
  const items = facet.values.map((v) => {
    const li = document.createElement("li");
    const narrow = narrowing(name, v.value);
    li.append(valueButton(valueLabel(name, v.value), v.count, most, narrow, "narrow the selection to this"));
    return li;
  });
  const ul = el("ul");
  ul.append(...items);
  if (facet.more) ul.append(el("li", `and ${facet.more} more`, "more"));
  return ul;
}

function removeKey(key) { keys = keys.filter((k) => k.key !== key); refreshFacets(); }

function keySection(facet) {
  const head = el("div", null, "facet-key-head");
  const remove = el("button", "×", "chip-x");
  remove.type = "button";
  remove.setAttribute("aria-label", "remove facet " + facet.key);
  remove.addEventListener("click", () => removeKey(facet.key));
  head.append(remove);
  if (facet.kind === "number" && facet.unit) {  // the histogram's unit: the key's own, or one compatible
    const unit = document.createElement("select");
    unit.setAttribute("aria-label", "unit of " + facet.key);
    unit.replaceChildren(...compatibleUnits(facet.unit).map((u) => new Option(u, u)));
    unit.value = facet.unit;
    unit.addEventListener("change", () => {
      keys = keys.map((k) => (k.key === facet.key ? {...k, unit: unit.value} : k));
      refreshFacets();
    });
    head.append(unit);
  }
  const body = [];
  if (facet.kind === "number") {
    const most = Math.max(0, ...facet.bins.map((b) => b.count));
    const ul = el("ul", null, "histogram");
    ul.append(...facet.bins.map((b, i) => {
      const li = document.createElement("li");
      li.append(valueButton(binLabel(b, facet.unit), b.count, most, b.count ? barNarrowing(facet.key, facet.unit, facet.bins, i) : null,
                            "narrow the selection to this range"));
      return li;
    }));
    body.push(ul);
  } else if (facet.kind === "text") {
    body.push(list(facet.key, facet.top));
  }
  const notes = [`${facet.count} with this key`];
  if (facet.unconverted) notes.push(`${facet.unconverted} not in ${facet.unit || "numbers"}`);
  body.push(el("p", notes.join("; "), "facet-note"));
  const s = section(facet.key, head, ...body);
  s.dataset.key = facet.key;
  return s;
}

// Draws the panel for the selection in force (the filter and its conditions).
export async function refreshFacets() {
  if (!page) return;
  const mine = ++asked;
  try {
    const out = await (await api("/api/scans/facets?" + facetParams(page.filter(), keys, Date.now()))).json();
    if (mine !== asked) return;
    showError("");
    $("facet-note").textContent = countedNote(out);
    $("facet-body").replaceChildren(
      section("Beamline", list("beamline", out.beamline)), section("Proposal", list("proposal", out.proposal)),
      section("Status", list("status", out.status)), section("Rating", list("rating", out.rating)),
      ...out.keys.map(keySection));
    $("facets").dataset.ready = String(mine);
  } catch (err) {
    if (mine !== asked) return;
    // A refused condition is shown beside the builder already; a refused facet key is taken out.
    if (err.status === 422 && keys.length && /facet key/.test(err.message)) {
      keys = keys.filter((k) => !err.message.includes(`'${k.key}'`));
    }
    showError("cannot count facets: " + err.message);
  }
}

function addKey() {
  const got = withKey(keys, $("facet-key").value);
  if (got.error) { showError(got.error); return; }
  keys = got.keys;
  $("facet-key").value = "";
  refreshFacets();
}

// table: {filter(), addConditions(wheres) -> ok}; changes: the ids of
// the inputs whose change changes the selection.
export function setupFacets(table, changes) {
  page = table;
  for (const id of changes) $(id).addEventListener("change", refreshFacets);
  $("facet-add").addEventListener("click", addKey);
  $("facet-key").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); addKey(); } });
  refreshFacets();
}
