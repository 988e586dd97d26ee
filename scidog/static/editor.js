// scidog's editor. A file of its own (no inline script), so the page can be served with a
// Content-Security-Policy that allows only scripts from this server. Everything that comes
// from the server (device names, attributes, units, messages) is shown as text: elements are
// made with createElement / new Option and filled with textContent, never with innerHTML.
"use strict";
const $ = (id) => document.getElementById(id);

// The token comes in the fragment (#token=...), which the browser never sends to the server, so
// it stays out of access logs; it is kept for this tab and taken out of the address at once.
const fragment = new URLSearchParams(location.hash.slice(1));
const query = new URLSearchParams(location.search);
const tokenInQuery = query.has("token");
if (fragment.has("token") || tokenInQuery) {
  if (fragment.get("token")) sessionStorage.setItem("scidog-token", fragment.get("token"));
  fragment.delete("token");
  query.delete("token");  // never used: it has been sent to the server already
  const rest = (String(query) ? "?" + query : "") + (String(fragment) ? "#" + fragment : "");
  history.replaceState(null, "", location.pathname + rest);
}
const token = sessionStorage.getItem("scidog-token");
let beamline = "", configs = [], current = null, editing = -1, attrs = {}, dirty = false;

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), ...(token ? { Authorization: `Bearer ${token}` } : {}) };
  if (options.json !== undefined) { headers["Content-Type"] = "application/json"; options.body = JSON.stringify(options.json); }
  const answer = await fetch("api/" + path, { ...options, headers });
  const body = answer.headers.get("content-type")?.includes("json") ? await answer.json() : await answer.text();
  if (!answer.ok) {
    const text = typeof body === "object" ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)) : body;
    const err = new Error(text); err.status = answer.status; err.body = body; throw err;
  }
  return body;
}
function element(tag, text = "", className = "") {
  const made = document.createElement(tag);
  if (text !== "") made.textContent = text;
  if (className) made.className = className;
  return made;
}
function say(text, good = false) { $("message").replaceChildren(); if (text) $("message").append(element("div", text, "message " + (good ? "good" : "bad"))); }
function fieldErrors(problems = []) {
  document.querySelectorAll(".error").forEach((e) => (e.textContent = ""));
  for (const p of problems) {
    const m = /^(?:config\.)?attributes\.(\d+)\.(\w+)/.exec(p.field || "");
    if (m && Number(m[1]) === editing) fieldErrorsFor(m[2], p.message);
    if (/^(?:config\.)?techniques/.test(p.field || "")) fieldErrorsFor("techniques", p.message);
  }
}
function fieldErrorsFor(field, text) { const el = document.querySelector(`.error[data-for="${field}"]`); if (el) el.textContent = text; }

async function loadBeamlines() {
  if (tokenInQuery) { say("A token in the address (?token=…) is sent to the server and lands in its logs: open this page with #token=… instead."); return; }
  try { const me = await api("me"); $("me").textContent = `signed in as ${me.user}`; } catch (e) { say("Sign in: open this page with #token=…"); return; }
  const list = await api("beamlines");
  $("beamline").replaceChildren(...list.map((b) => new Option(b, b)));
  beamline = list[0] || ""; if (beamline) await loadConfigs();
}
async function loadConfigs(select) {
  configs = (await api(`beamlines/${encodeURIComponent(beamline)}/configs`)).data;
  $("configs").replaceChildren();
  for (const c of configs) {
    const li = element("li", "", "config"); li.tabIndex = 0;
    li.append(element("span", c.active ? "● " : "", "active-mark"), `${c.name} (rev ${c.revision}, ${c.entries} entries) ${c.description || ""}`);
    li.onclick = li.onkeydown = (ev) => { if (ev.type === "click" || ev.key === "Enter") openConfig(c.name); };
    $("configs").append(li);
  }
  const pick = select || (configs.find((c) => c.active) || configs[0] || {}).name; if (pick) await openConfig(pick);
}
function configPath(name = current.name) { return `beamlines/${encodeURIComponent(beamline)}/configs/${encodeURIComponent(name)}`; }
async function openConfig(name) {
  if (dirty && !confirm("Discard the unsaved changes?")) return;
  current = await api(configPath(name)); dirty = false; editing = -1;
  [...$("configs").children].forEach((li, i) => li.setAttribute("aria-current", configs[i].name === name));
  renderEntries(); $("history").hidden = true;
  $("techniques").value = (current.techniques || []).map((t) => t.name).join(", ");
}
// Names as typed; the server looks them up in PaNET (an unknown one is refused with the reason).
// A technique kept by its name stays as stored (one given as {pid, name} the table does not list).
$("techniques").addEventListener("change", (ev) => {
  const kept = new Map((current.techniques || []).map((t) => [t.name, t]));
  current.techniques = ev.target.value.split(",").map((n) => n.trim()).filter(Boolean).map((n) => kept.get(n) || n);
  dirty = true; renderEntries(); fieldErrorsFor("techniques", "");
});
function renderEntries() {
  $("revision").textContent = `${current.name}, revision ${current.revision}${dirty ? " (unsaved)" : ""}`;
  const groups = {}; current.attributes.forEach((a, i) => (groups[a.group || "(no group)"] ||= []).push([a, i]));
  $("entries").replaceChildren();
  for (const [group, items] of Object.entries(groups)) {
    $("entries").append(element("div", group, "group"));
    for (const [a, i] of items) {
      const b = element("button", `${a.name}: ${a.device}/${a.attribute}${a.unit ? " [" + a.unit + "]" : ""}`, "entry");
      b.onclick = () => editEntry(i); $("entries").append(b);
    }
  }
}
function editEntry(i) {
  editing = i; const a = current.attributes[i] || { name: "", group: "", device: "", attribute: "", unit: "", at: "start", mapping: {} };
  const f = $("entry"); f.name.value = a.name; f.group.value = a.group || ""; f.device.value = a.device; f.unit.value = a.unit || ""; f.at.value = a.at || "start";
  f.mapping.value = Object.entries(a.mapping || {}).map(([k, v]) => `${k} = ${v}`).join("\n");
  loadAttributes(a.device, a.attribute); fieldErrors(); f.name.focus();
}
let searchTimer = 0;
$("entry").device.addEventListener("input", (ev) => {
  clearTimeout(searchTimer); const text = ev.target.value;
  searchTimer = setTimeout(async () => {
    try {
      const found = await api(`tango/devices?q=${encodeURIComponent(text)}&limit=30`);
      $("device-list").replaceChildren(...found.map((d) => { const o = document.createElement("option"); o.value = d; return o; }));
    } catch (e) { fieldErrorsFor("device", e.message); }
  }, 150);
});
$("entry").device.addEventListener("change", (ev) => loadAttributes(ev.target.value));
let attrsDevice = null;
async function loadAttributes(device, selected) {
  if (device === attrsDevice && !selected) return;  // the same device again (a blur): keep the choice
  attrsDevice = device;
  const select = $("entry").attribute; select.replaceChildren(...(selected ? [new Option(selected, selected)] : [])); attrs = {}; fieldErrorsFor("device", "");
  if (!device) return;
  try {
    const list = await api(`tango/attributes?device=${encodeURIComponent(device)}`);
    attrs = Object.fromEntries(list.map((a) => [a.name, a]));
    select.replaceChildren(...list.map((a) => new Option(`${a.name} (${a.type.replace("DevVarDoubleArray", "double[]")}, ${a.format}${a.unit ? ", " + a.unit : ""})`, a.name)));
    if (selected) select.value = selected; attributeChosen(!selected);
  } catch (e) { fieldErrorsFor("device", e.message); }
}
function attributeChosen(fillUnit = true) {
  const a = attrs[$("entry").attribute.value]; if (!a) return;
  if (fillUnit && a.unit) $("entry").unit.value = a.unit;
  if (a.enum_labels.length && !$("entry").mapping.value) $("entry").mapping.value = a.enum_labels.map((l, i) => `${i} = ${l}`).join("\n");
  fieldErrorsFor("mapping", a.scalar ? "" : "not a scalar attribute: no mapping");
}
$("entry").attribute.addEventListener("change", () => attributeChosen(true));
$("preview").onclick = async () => {
  const f = $("entry"); $("preview-out").textContent = "…";
  try { const v = await api(`tango/value?device=${encodeURIComponent(f.device.value)}&attribute=${encodeURIComponent(f.attribute.value)}`); $("preview-out").textContent = `${JSON.stringify(v.value)} (${v.quality})`; }
  catch (e) { $("preview-out").textContent = e.message; }
};
$("entry").addEventListener("submit", (ev) => {
  ev.preventDefault(); const f = $("entry"); const mapping = {};
  for (const line of f.mapping.value.split("\n")) { const m = /^\s*([^=]+?)\s*=\s*(.*?)\s*$/.exec(line); if (m) mapping[m[1]] = m[2]; }
  const entry = { name: f.name.value.trim(), group: f.group.value.trim(), device: f.device.value.trim(), attribute: f.attribute.value, unit: f.unit.value.trim(), at: f.at.value, mapping };
  if (!entry.name) { fieldErrorsFor("name", "a friendly name is required"); return; }
  const clash = current.attributes.findIndex((a, i) => a.name === entry.name && i !== editing);
  if (clash >= 0) { fieldErrorsFor("name", "this friendly name is already used"); return; }
  if (editing >= 0 && editing < current.attributes.length) current.attributes[editing] = entry; else { current.attributes.push(entry); editing = current.attributes.length - 1; }
  dirty = true; renderEntries(); say("Applied: Save to make it a new revision.", true);
});
$("remove").onclick = () => { if (editing < 0 || editing >= current.attributes.length) return; current.attributes.splice(editing, 1); editing = -1; dirty = true; renderEntries(); };
$("new-entry").onclick = () => editEntry(current.attributes.length);
$("save").onclick = async () => {
  try {
    const saved = await api(configPath(), { method: "PUT", json: { config: current, base_revision: current.revision } });
    dirty = false; say(`Saved as revision ${saved.revision}.`, true); const keep = editing; await loadConfigs(current.name); editing = keep;
  } catch (e) { say(e.status === 409 ? `Not saved: ${e.message} Your edit is kept here.` : `Not saved: ${e.message}`); fieldErrors(e.body?.problems); }
};
$("activate").onclick = async () => {
  try { await api(`beamlines/${encodeURIComponent(beamline)}/active`, { method: "PUT", json: { name: current.name } }); say(`${current.name} is active: the next scan uses it.`, true); await loadConfigs(current.name); }
  catch (e) { say(e.message); }
};
$("duplicate").onclick = async () => {
  const name = prompt("Name of the copy"); if (!name) return;
  try { await api(`${configPath()}/duplicate`, { method: "POST", json: { name } }); await loadConfigs(name); } catch (e) { say(e.message); }
};
$("history-btn").onclick = async () => {
  const list = (await api(`${configPath()}/revisions`)).data; const box = $("history"); box.hidden = false;
  const head = element("tr"); for (const h of ["rev", "by", "when", "change", ""]) head.append(element("th", h));
  const thead = element("thead"); thead.append(head); const tbody = element("tbody"); const table = element("table"); table.append(thead, tbody);
  const out = element("pre"); out.id = "diff";
  box.replaceChildren(element("h2", "History"), table, out);
  for (const r of list) {
    const tr = element("tr"); for (const v of [r.revision, r.by, new Date(r.at).toLocaleString(), r.change]) tr.append(element("td", String(v)));
    const td = element("td");
    const diff = element("button", "diff"); diff.disabled = r.revision === 1;
    diff.onclick = async () => { out.textContent = JSON.stringify(await api(`${configPath()}/diff?from=${r.revision - 1}&to=${r.revision}`), null, 2); };
    const restore = element("button", "restore"); restore.disabled = r.revision === current.revision;
    restore.onclick = async () => {
      try { const saved = await api(`${configPath()}/restore`, { method: "POST", json: { revision: r.revision, base_revision: current.revision } }); say(`Restored revision ${r.revision} as revision ${saved.revision}.`, true); await loadConfigs(current.name); }
      catch (e) { say(e.message); }
    };
    td.append(diff, restore); tr.append(td); tbody.append(tr);
  }
};
$("beamline").onchange = async (ev) => { beamline = ev.target.value; await loadConfigs(); };
window.addEventListener("beforeunload", (ev) => { if (dirty) { ev.preventDefault(); ev.returnValue = ""; } });
loadBeamlines();
