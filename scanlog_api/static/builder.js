// The condition builder beside the filters: a key picker with type-ahead over the selection's
// keys (nested ones as outer.inner, with their units), the operators that fit the key, its
// compatible units, "Add" (ANDed) and "Or" (ORed with the last condition on the same key), the
// chips of the conditions in force (an OR reads "... or ..."; × removes one), and the API's
// objection (a 422 names the condition).
// What a condition means and its text are conditions.js's; loading with them is the caller's.
import {$, el} from "./session.js";
import {
  MAX_CONDITIONS, OP_LABELS, arity, compatibleUnits, conditionText, fromForm, fromWhere, keyType, opsFor, orWhere,
} from "./conditions.js";

let wheres = [];     // the where texts in force, in order
let keys = {};       // key -> unit, as /api/scans/keys answers for the selection
let page = null;     // the table's side: {values(key), apply(next) -> ok, changed()}

// The conditions in force (the filter's where).
export function currentWheres() { return [...wheres]; }

// The API's objection, or what the form lacks, beside the builder ("" hides it).
export function showConditionError(text) {
  $("c-error").textContent = text;
  $("c-error").hidden = !text;
}

// The selection's keys for the picker: the option's value is the key, its text shows the unit.
export function setKeys(answer) {
  keys = answer || {};
  $("c-keys").replaceChildren(...Object.entries(keys).sort(([a], [b]) => a.localeCompare(b)).map(([k, u]) => {
    const o = document.createElement("option");
    o.value = k;
    o.textContent = u ? `${k} [${u}]` : k;
    o.label = o.textContent;
    return o;
  }));
  fitKey();
}

function typeOf(key) { return keyType(keys[key] || "", page.values(key)); }

// The key changed: its operators and units (what was picked stays where it still fits).
function fitKey() {
  const key = $("c-key").value.trim(), unit = keys[key] || "";
  const op = $("c-op"), keepOp = op.value;
  op.replaceChildren(...opsFor(typeOf(key)).map((o) => new Option(OP_LABELS[o], o)));
  if ([...op.options].some((o) => o.value === keepOp)) op.value = keepOp;
  const units = $("c-unit"), keepUnit = units.value;
  units.replaceChildren(...compatibleUnits(unit).map((u) => new Option(u, u)));
  if (compatibleUnits(unit).includes(keepUnit)) units.value = keepUnit;
  $("c-key").title = unit ? `${key} is stored in ${unit}` : "";
  fitOp();
}

// The operator changed: as many value fields as it takes, and a unit where one applies.
function fitOp() {
  const op = $("c-op").value, n = arity(op);
  $("c-value").hidden = n === 0;
  $("c-value").placeholder = n === "list" ? "a,b,c" : n === 2 ? "from" : "value";
  $("c-and").hidden = $("c-value2").hidden = n !== 2;
  $("c-unit").hidden = !$("c-unit").options.length || n === 0 || n === "list" || op === "contains";
}

// Loads with the next conditions; only if the API took them do they come into force.
async function change(next) {
  if (!(await page.apply(next))) return false;
  wheres = next;
  showConditionError("");
  renderChips();
  page.changed();
  return true;
}

// The form's condition as a where text, or null (what it lacks shown beside the builder).
function formWhere() {
  const key = $("c-key").value.trim();
  const got = fromForm({key, op: $("c-op").value, value: $("c-value").value, value2: $("c-value2").value,
                        unit: $("c-unit").hidden ? "" : $("c-unit").value}, typeOf(key));
  if (got.error) { showConditionError(got.error); return null; }
  return got.where;
}

async function add() {
  const where = formWhere();
  if (where === null) return;
  if (wheres.length >= MAX_CONDITIONS) { showConditionError(`at most ${MAX_CONDITIONS} conditions`); return; }
  if (await change([...wheres, where])) {
    $("c-value").value = $("c-value2").value = "";
  }
}

// The form's test ORed into the last condition on the same key (the API takes OR within a key).
async function addOr() {
  const where = formWhere();
  if (where === null) return;
  const key = fromWhere(where).key;
  const at = wheres.findLastIndex((w) => fromWhere(w)?.key === key);
  if (at < 0) { showConditionError(`no condition on ${key} to join with "or": add one first`); return; }
  if (await change(wheres.map((w, i) => (i === at ? orWhere(w, where) : w)))) {
    $("c-value").value = $("c-value2").value = "";
  }
}

// Conditions added from elsewhere on the page (a facet clicked), loaded as one added here is;
// false when the API refused them (its objection shown beside the builder) or too many.
export async function addConditions(more) {
  const next = [...wheres, ...more.filter((w) => !wheres.includes(w))];
  if (next.length > MAX_CONDITIONS) { showConditionError(`at most ${MAX_CONDITIONS} conditions`); return false; }
  return change(next);
}

function renderChips() {
  $("chips").replaceChildren(...wheres.map((w, i) => {
    const text = conditionText(fromWhere(w)) || w;
    const remove = el("button", "×", "chip-x");
    remove.type = "button";
    remove.setAttribute("aria-label", "remove condition " + text);
    remove.addEventListener("click", () => change(wheres.filter((_, j) => j !== i)));
    const chip = el("li", null, "chip");
    chip.dataset.where = w;
    chip.append(el("span", text), remove);
    return chip;
  }));
}

// initial: the address's where texts (in force from the first load on); table: see `page`.
export function setupConditions(initial, table) {
  wheres = [...initial];
  page = table;
  renderChips();
  for (const type of ["input", "change"]) $("c-key").addEventListener(type, fitKey);
  $("c-op").addEventListener("change", fitOp);
  $("c-add").addEventListener("click", add);
  const or = el("button", "Or", null);  // made here: the page's markup predates OR
  Object.assign(or, {id: "c-or", type: "button", title: "join with OR to the last condition on this key"});
  $("c-add").after(or);
  or.addEventListener("click", addOr);
  for (const id of ["c-value", "c-value2"]) {
    $(id).addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); add(); } });
  }
  fitKey();
}
