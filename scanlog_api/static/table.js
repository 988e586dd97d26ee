// The scan table: filters, columns, the live feed, the detail view, the cart and the plot.
import {$, api, auth, el, token, tokenNotice} from "./session.js";
import {starWidget} from "./stars.js";
import {detailLinks, fileTable, gallery, metadataGroups} from "./detail-parts.js";

const params = new URLSearchParams(location.search);  // read after session.js took any token out
if (tokenNotice) { $("notice").textContent = tokenNotice; $("notice").hidden = false; }
const FIXED = {scan_id: "Scan", title: "Title", start: "Start", duration: "Duration", status: "Status",
               files: "Files", rating: "Rating"};
const PAGE = 50;
const layoutKey = "scanlog-layout:" + (token ? token.slice(-8) : "anonymous");
let columns = JSON.parse(localStorage.getItem(layoutKey) || "null") || Object.keys(FIXED);
let units = {}, rows = [], total = 0, skip = 0, sort = "creationTime", order = "desc";
let selected = new Set(), lastClicked = null, me = null;
if (params.get("proposal")) $("f-proposal").value = params.get("proposal");
if (params.get("beamline")) $("f-beamline").replaceChildren(new Option("all", ""), new Option(params.get("beamline"), params.get("beamline")));
if (params.get("beamline")) $("f-beamline").value = params.get("beamline");

async function fillPickers() {
  try {
    const proposals = await (await api("/api/proposals")).json();
    $("proposal-list").replaceChildren(...proposals.map((p) => {
      const o = document.createElement("option"); o.value = p.proposalId; o.label = p.title ? p.proposalId + " · " + p.title : p.proposalId; o.textContent = o.label; return o;
    }));
  } catch (err) { $("status").textContent = "cannot list proposals: " + err.message; }
  try {
    const beamlines = await (await api("/api/beamlines")).json();
    const wanted = $("f-beamline").value || params.get("beamline");
    if (wanted && !beamlines.includes(wanted)) beamlines.push(wanted);
    const select = $("f-beamline");
    select.replaceChildren(new Option("all", ""), ...beamlines.map((b) => new Option(b, b)));
    select.value = wanted || "";
  } catch (err) { $("status").textContent = "cannot list beamlines: " + err.message; }
}

function saveLayout() { localStorage.setItem(layoutKey, JSON.stringify(columns)); }
function label(col) { return FIXED[col] || col.slice(5); }

function filterQuery() {
  const q = new URLSearchParams();
  const range = $("f-range").value;
  if (range === "custom") {
    if ($("f-since").value) q.set("since", new Date($("f-since").value).toISOString());
    if ($("f-until").value) q.set("until", new Date($("f-until").value).toISOString());
  } else if (range) {
    q.set("since", new Date(Date.now() - Number(range) * 3600e3).toISOString());
  }
  for (const [key, id] of [["proposal", "f-proposal"], ["beamline", "f-beamline"], ["q", "f-q"], ["min_rating", "f-rating"]]) {
    if ($(id).value.trim()) q.set(key, $(id).value.trim());
  }
  return q;
}

function fmt(col, r) {
  if (col === "start") return r.start ? new Date(r.start).toLocaleString() : "";
  if (col === "duration") return r.duration == null ? "" : Number(r.duration).toFixed(1) + " s";
  if (col.startsWith("meta:")) {
    const m = r.meta[col.slice(5)];
    if (!m || m.value == null) return "";
    const v = Array.isArray(m.value) ? m.value.join(", ") : typeof m.value === "object" ? JSON.stringify(m.value) : String(m.value);
    return m.unit ? v + " " + m.unit : v;
  }
  const v = r[col];
  return v == null ? "" : String(v);
}

function stars(r) {
  return starWidget(r.rating, "rating of scan " + r.scan_id, async (value) => {
    try {
      await api("/api/scans/" + r.pid + "/rating", {method: "PUT", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({value})});
      r.rating = value;
    } catch (err) { $("status").textContent = "rating not saved: " + err.message; throw err; }
  });
}

function renderHead() {
  const head = $("head");
  head.replaceChildren();
  const sel = document.createElement("th");
  sel.textContent = "✓";
  head.appendChild(sel);
  columns.forEach((col, i) => {
    const th = document.createElement("th");
    th.draggable = true;
    th.dataset.col = col;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = label(col) + (units[col] ? " [" + units[col] + "]" : "") + (sort === sortKey(col) ? (order === "asc" ? " ▲" : " ▼") : "");
    name.addEventListener("click", () => { const k = sortKey(col); order = sort === k && order === "desc" ? "asc" : "desc"; sort = k; load(); });
    const x = document.createElement("span");
    x.className = "x";
    x.textContent = "×";
    x.title = "hide " + label(col);
    x.addEventListener("click", (e) => { e.stopPropagation(); columns.splice(i, 1); saveLayout(); render(); fillAddColumn(); });
    th.append(name, x);
    th.addEventListener("dragstart", (e) => e.dataTransfer.setData("text/plain", String(i)));
    th.addEventListener("dragover", (e) => e.preventDefault());
    th.addEventListener("drop", (e) => {
      e.preventDefault();
      const from = Number(e.dataTransfer.getData("text/plain"));
      const [moved] = columns.splice(from, 1);
      columns.splice(i, 0, moved);
      saveLayout();
      render();
    });
    head.appendChild(th);
  });
  const link = document.createElement("th");
  link.textContent = "";
  head.appendChild(link);
}
function sortKey(col) { return col; }

function renderRow(r, fresh) {
  const tr = document.createElement("tr");
  tr.dataset.pid = r.pid;
  if (fresh) tr.className = "fresh";
  const box = document.createElement("td");
  const check = document.createElement("input");
  check.type = "checkbox";
  check.className = "select";
  check.checked = selected.has(r.pid);
  check.addEventListener("click", (e) => {
    const pids = rows.map((x) => x.pid);
    if (e.shiftKey && lastClicked !== null) {
      const [a, b] = [pids.indexOf(lastClicked), pids.indexOf(r.pid)].sort((x, y) => x - y);
      for (const p of pids.slice(a, b + 1)) check.checked ? selected.add(p) : selected.delete(p);
      renderBody();
    } else {
      check.checked ? selected.add(r.pid) : selected.delete(r.pid);
    }
    lastClicked = r.pid;
    $("select-all-filter").checked = false;
    showSelected();
  });
  box.appendChild(check);
  tr.appendChild(box);
  for (const col of columns) {
    const td = document.createElement("td");
    td.className = "cell";
    td.dataset.col = col;
    if (col === "rating") { td.appendChild(stars(r)); } else {
      const text = fmt(col, r);
      td.textContent = text;
      td.title = text;
      if (col === "status") td.classList.add(String(r.status));
    }
    tr.appendChild(td);
  }
  const more = document.createElement("td");
  const a = document.createElement("a");
  a.href = "#";
  a.textContent = "details";
  a.addEventListener("click", (e) => { e.preventDefault(); showDetail(r.pid); });
  more.appendChild(a);
  if (r.reduction) {  // the state of the scan's latest reduction job
    const badge = el("span", " ⚙ " + r.reduction, "reduction " + r.reduction);
    badge.title = "reduction " + r.reduction;
    more.appendChild(badge);
  }
  tr.appendChild(more);
  return tr;
}

// A live update of a row keeps the keyboard where it was (rating with the arrow keys updates
// the row, which comes back over the stream).
function replaceRow(r) {
  const old = $("rows").querySelector(`tr[data-pid="${CSS.escape(r.pid)}"]`);
  if (!old) return;
  const stars = old.querySelector(".stars");
  const focused = old.contains(document.activeElement) && document.activeElement === stars;
  // While the user rates this row, the value they see is theirs, not one the stream echoes back.
  if (stars && (focused || stars.dataset.saving)) r.rating = stars.dataset.value === "" ? null : Number(stars.dataset.value);
  const fresh = renderRow(r, true);
  old.replaceWith(fresh);
  if (focused) fresh.querySelector(".stars")?.focus();
}

function renderBody() { $("rows").replaceChildren(...rows.map((r) => renderRow(r, false))); }
function render() { renderHead(); renderBody(); }
function showSelected() {
  $("selected-count").textContent = $("select-all-filter").checked ? "all " + total + " selected" : selected.size ? selected.size + " selected" : "";
}

async function load() {
  const q = filterQuery();
  q.set("skip", skip); q.set("limit", PAGE); q.set("sort", sort); q.set("order", order);
  try {
    const page = await (await api("/api/scans?" + q)).json();
    rows = page.data;
    total = page.count;
    $("page").textContent = total ? `${skip + 1}–${skip + rows.length} of ${total}` : "no scans";
    $("status").textContent = "updated " + new Date().toLocaleTimeString();
    render();
  } catch (err) { $("status").textContent = "cannot load scans: " + err.message; }
}

async function fillAddColumn() {
  try {
    units = await (await api("/api/scans/keys?" + filterQuery())).json();
  } catch (err) { units = {}; }
  const metaUnits = {};
  for (const [k, u] of Object.entries(units)) metaUnits["meta:" + k] = u;
  units = metaUnits;
  const add = $("add-column");
  const options = [["", "…"]];
  for (const col of [...Object.keys(FIXED), ...Object.keys(units)]) if (!columns.includes(col)) options.push([col, label(col)]);
  add.replaceChildren(...options.map(([v, t]) => { const o = document.createElement("option"); o.value = v; o.textContent = t; return o; }));
  renderHead();
}

function matchesView(r) {
  const q = filterQuery();
  if (q.get("proposal") && r.proposal !== q.get("proposal")) return false;
  if (q.get("beamline") && r.beamline !== q.get("beamline")) return false;
  return skip === 0 && sort === "creationTime" && order === "desc" && !q.get("q") && !q.get("min_rating");
}

// Live: server-sent events read through fetch (so the token goes in a header, never a URL).
let liveAbort = null;  // aborted when the proposal or beamline filter changes: the stream reopens with it
async function live() {
  for (;;) {
    const q = filterQuery();
    const path = "/api/stream?" + new URLSearchParams([...q].filter(([k]) => k === "proposal" || k === "beamline"));
    const ctl = new AbortController();
    liveAbort = ctl;
    try {
      const response = await api(path, {signal: ctl.signal});
      await load();  // after every (re)connect: nothing written meanwhile is missed
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (!block.startsWith("event: scan")) continue;
          const r = JSON.parse(block.split("\n").find((l) => l.startsWith("data:")).slice(5));
          if (!matchesView(r)) continue;
          const at = rows.findIndex((x) => x.pid === r.pid);
          if (at >= 0) { if (r.reduction === undefined) r.reduction = rows[at].reduction; rows[at] = r; replaceRow(r); }
          else { rows.unshift(r); total += 1; if (rows.length > PAGE) rows.pop(); $("rows").prepend(renderRow(r, true)); $("rows").querySelectorAll("tr")[PAGE]?.remove(); }
          $("page").textContent = `${skip + 1}–${skip + rows.length} of ${total}`;
          $("status").textContent = "live · updated " + new Date().toLocaleTimeString();
        }
      }
    } catch (err) {
      if (ctl.signal.aborted) continue;  // a filter changed: reopen at once
      $("status").textContent = "live feed lost (" + err.message + "); reconnecting…";
    }
    await new Promise((ok) => setTimeout(ok, 1000));
  }
}

// --- the detail view, as a person reads it ------------------------------------------

function ratingPanel(d) {
  const p = el("p"); p.id = "rating-panel";
  const s = d.ratingSummary || {};
  p.append("Your rating ");
  p.appendChild(starWidget(s.mine ?? null, "your rating", async (value) => {
    await api("/api/scans/" + d.pid + "/rating", {method: "PUT", headers: {"Content-Type": "application/json"}, body: JSON.stringify({value})});
    showDetail(d.pid); load();
  }));
  p.append(el("span", s.average == null ? " · no ratings yet" : ` · average ${s.average} of 3 from ${s.raters} ${s.raters === 1 ? "person" : "people"}`, "average"));
  return p;
}

function reductionList(jobs, pid) {
  const box = el("section"); box.id = "reductions"; box.appendChild(el("h3", "Reductions (" + jobs.length + ")"));
  const list = el("ul");
  for (const j of jobs) {
    const li = el("li"); li.dataset.state = j.state;
    li.append(el("span", `${j.rule} (${j.pipeline}): `), el("span", j.state, "reduction " + j.state),
              el("span", ` · attempt ${j.attempt ?? 0}` + (j.endedAt ? " · ended " + new Date(j.endedAt).toLocaleString() : "")));
    if (j.derived) {
      const a = el("a", "derived dataset"); a.href = "#"; a.className = "derived";
      a.addEventListener("click", (e) => { e.preventDefault(); showDetail(j.derived); });
      li.append(" · ", a);
    }
    if (token) li.append(" ", reductionActions(j, pid));
    if (j.log) { const log = el("details"); log.append(el("summary", "log"), el("pre", j.log)); li.append(log); }
    list.appendChild(li);
  }
  box.appendChild(list);
  return box;
}

// Run again (changed parameters as JSON, step -> name -> value) and cancel: the API decides
// who may (the scan's writers) and says why not; the page shows its answer.
function reductionActions(j, pid) {
  const box = el("span", null, "reduction-actions");
  if (j.state === "queued" || j.state === "failed") {
    const cancel = el("button", "cancel", "cancel-job");
    cancel.addEventListener("click", async () => {
      try { await api("/api/reductions/" + encodeURIComponent(j.id) + "/cancel", {method: "POST"}); showDetail(pid); }
      catch (err) { $("status").textContent = "not cancelled: " + err.message; }
    });
    box.append(cancel);
  }
  if (j.state !== "queued" && j.state !== "running" && !/\.r[0-9]+$/.test(j.rule)) {
    const again = el("details", null, "rerun"); again.append(el("summary", "run again…"));
    const params = document.createElement("textarea"); params.className = "rerun-params"; params.rows = 3; params.cols = 40;
    params.value = JSON.stringify(j.params || {});
    const go = el("button", "run again", "rerun-go");
    go.addEventListener("click", async () => {
      let body;
      try { body = {rule: j.rule, params: JSON.parse(params.value || "{}")}; }
      catch (err) { $("status").textContent = "parameters are not JSON: " + err.message; return; }
      try { await api("/api/scans/" + pid + "/reductions", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)}); showDetail(pid); }
      catch (err) { $("status").textContent = "not run again: " + err.message; }
    });
    again.append(params, go);
    box.append(again);
  }
  return box;
}

async function showDetail(pid) {
  const body = $("detail-body");
  body.replaceChildren();
  try {
    const d = await (await api("/api/scans/" + pid)).json();
    const h = document.createElement("h2"); h.id = "detail-title"; h.textContent = d.title; body.appendChild(h);
    body.appendChild(detailLinks(d));
    body.appendChild(ratingPanel(d));
    body.appendChild(metadataGroups(d.scientificMetadata));
    body.appendChild(fileTable(d.files));
    body.appendChild(gallery(d.attachments));
    body.appendChild(reductionList(d.reductions || [], pid));
    const history = document.createElement("details"); history.id = "rating-history";
    const hs = document.createElement("summary"); hs.textContent = "Rating history (" + d.ratings.length + ")"; history.appendChild(hs);
    const hl = document.createElement("ul");
    for (const r of d.ratings) { const li = document.createElement("li"); li.textContent = `${r.user}: ${r.value ?? "unrated"} (${new Date(r.at).toLocaleString()})`; hl.appendChild(li); }
    history.appendChild(hl); body.appendChild(history);
    const ch = document.createElement("h3"); ch.textContent = "Comments"; body.appendChild(ch);
    const list = document.createElement("ul"); list.id = "comments";
    for (const c of d.comments) {
      const li = document.createElement("li");
      const text = document.createElement("span");
      text.textContent = `${c.author} (${new Date(c.createdAt).toLocaleString()}${c.updatedAt ? ", edited" : ""}): ${c.text}`;
      li.appendChild(text);
      if (me && c.author === me.user) {  // your own: edit and delete
        const edit = document.createElement("button"); edit.textContent = "edit"; edit.className = "comment-edit";
        edit.addEventListener("click", () => {
          const box = document.createElement("input"); box.value = c.text; box.size = 50; box.className = "comment-edit-text";
          const save = document.createElement("button"); save.textContent = "save"; save.className = "comment-save";
          save.addEventListener("click", async () => {
            try { await api("/api/comments/" + c.id, {method: "PATCH", headers: {"Content-Type": "application/json"}, body: JSON.stringify({text: box.value})}); showDetail(pid); }
            catch (err) { $("status").textContent = "comment not saved: " + err.message; }
          });
          li.replaceChildren(box, save);
        });
        const del = document.createElement("button"); del.textContent = "delete"; del.className = "comment-delete";
        del.addEventListener("click", async () => {
          try { await api("/api/comments/" + c.id, {method: "DELETE"}); showDetail(pid); }
          catch (err) { $("status").textContent = "comment not deleted: " + err.message; }
        });
        li.append(" ", edit, del);
      }
      list.appendChild(li);
    }
    body.appendChild(list);
    const input = document.createElement("input"); input.id = "comment-text"; input.placeholder = "comment"; input.size = 50;
    const send = document.createElement("button"); send.id = "comment-send"; send.textContent = "add comment";
    send.addEventListener("click", async () => {
      try { await api("/api/scans/" + pid + "/comments", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({text: input.value})}); showDetail(pid); }
      catch (err) { $("status").textContent = "comment not saved: " + err.message; }
    });
    const upload = document.createElement("input"); upload.type = "file"; upload.accept = "image/*"; upload.id = "attach";
    upload.addEventListener("change", async () => {
      const form = new FormData(); form.append("image", upload.files[0]); form.append("caption", upload.files[0].name);
      try { await api("/api/scans/" + pid + "/attachments", {method: "POST", body: form}); showDetail(pid); }
      catch (err) { $("status").textContent = "image not saved: " + err.message; }
    });
    const uploadLabel = document.createElement("label"); uploadLabel.append("Attach an image ", upload);
    body.append(input, send, document.createElement("br"), uploadLabel);
  } catch (err) { body.textContent = "cannot load: " + err.message; }
  if (!$("detail").open) $("detail").showModal();
}
$("close-detail").addEventListener("click", () => $("detail").close());
$("close-image").addEventListener("click", () => $("image-view").close());
function headerHeight() { document.documentElement.style.setProperty("--header-h", $("top").offsetHeight + "px"); }
window.addEventListener("resize", headerHeight);
headerHeight();

$("export-csv").addEventListener("click", async () => {
  const q = filterQuery();
  q.set("columns", columns.join(",")); q.set("sort", sort); q.set("order", order);
  if (!$("select-all-filter").checked) {
    if (!selected.size) { $("status").textContent = "select rows to export"; return; }
    q.set("pids", [...selected].join(","));
  }
  try {
    const blob = await (await api("/api/scans.csv?" + q)).blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "scans.csv";
    document.body.appendChild(a); a.click(); a.remove();
  } catch (err) { $("status").textContent = "export failed: " + err.message; }
});
$("select-all-filter").addEventListener("change", showSelected);
$("add-column").addEventListener("change", () => { if ($("add-column").value) { columns.push($("add-column").value); saveLayout(); fillAddColumn(); renderBody(); } });
$("prev").addEventListener("click", () => { skip = Math.max(0, skip - PAGE); load(); });
$("next").addEventListener("click", () => { if (skip + PAGE < total) { skip += PAGE; load(); } });
$("f-range").addEventListener("change", () => { const custom = $("f-range").value === "custom"; $("f-since").hidden = $("f-until").hidden = !custom; skip = 0; load(); });
for (const id of ["f-since", "f-until", "f-proposal", "f-beamline", "f-q", "f-rating"]) {
  $(id).addEventListener("change", () => { skip = 0; selected.clear(); load(); fillAddColumn(); });
}
for (const id of ["f-proposal", "f-beamline"]) $(id).addEventListener("change", () => liveAbort?.abort());
// --- the cart and the publication form -----------------------------------------
async function refreshCart() {
  if (!token) return [];
  const cart = await (await api("/api/cart")).json();
  $("cart-count").textContent = cart.count;
  const list = $("cart-list"); list.innerHTML = "";
  for (const pid of cart.data) {
    const li = document.createElement("li"); li.textContent = pid + " ";
    const remove = document.createElement("button"); remove.textContent = "remove";
    remove.addEventListener("click", async () => { await api("/api/cart/remove", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({pids: [pid]})}); refreshCart(); });
    li.append(remove); list.append(li);
  }
  return cart.data;
}
$("add-to-cart").addEventListener("click", async () => {
  if (!selected.size) { $("status").textContent = "select scans to add to the cart"; return; }
  try { await api("/api/cart", {method: "PUT", headers: {"Content-Type": "application/json"}, body: JSON.stringify({pids: [...selected]})});
        $("status").textContent = selected.size + " added to the cart"; refreshCart(); }
  catch (err) { $("status").textContent = "not added: " + err.message; }
});
$("open-cart").addEventListener("click", async () => {
  const pids = await refreshCart(); const form = $("publish-form");
  if (pids.length && !form.title.value) {
    const pre = await (await api("/api/publications/prefill?pids=" + encodeURIComponent(pids.join(",")))).json();
    form.title.value = pre.title || ""; form.abstract.value = pre.abstract || "";
    form.creators.value = (pre.creators || []).map((c) => c.name).join("\n");
    form.publication_year.value = new Date().getFullYear();
  }
  $("published").textContent = ""; $("cart").showModal();
});
$("close-cart").addEventListener("click", () => $("cart").close());
function lines(text) { return text.split("\n").map((l) => l.trim()).filter(Boolean); }
$("publish-form").addEventListener("submit", async (ev) => {
  ev.preventDefault(); const f = ev.target;
  document.querySelectorAll("#publish-form .error").forEach((e) => (e.textContent = ""));
  const pids = await refreshCart();
  const body = {
    title: f.title.value, abstract: f.abstract.value, publisher: f.publisher.value, resource_type: f.resource_type.value,
    publication_year: Number(f.publication_year.value), license: f.license.value, dataset_pids: pids,
    subjects: f.subjects.value.split(",").map((s) => s.trim()).filter(Boolean),
    creators: lines(f.creators.value).map((l) => { const [name, orcid = "", affiliation = ""] = l.split(";").map((s) => s.trim()); return {name, orcid, affiliation}; }),
    related: lines(f.related.value).map((l) => { const [identifier, relation_type = "IsSupplementTo"] = l.split(";").map((s) => s.trim()); return {identifier, relation_type, identifier_type: identifier.startsWith("http") ? "URL" : "DOI"}; }),
    funding: lines(f.funding.value).map((l) => { const [funder_name, award_number = ""] = l.split(";").map((s) => s.trim()); return {funder_name, award_number}; }),
  };
  const made = await fetch("/api/publications", {method: "POST", headers: {...auth, "Content-Type": "application/json"}, body: JSON.stringify(body)});
  const answer = await made.json().catch(() => ({}));
  if (!made.ok) {
    for (const e of Array.isArray(answer.detail) ? answer.detail : []) {
      const field = (e.loc || [])[1]; const box = document.querySelector(`#publish-form .error[data-for="${field}"]`) || document.querySelector('#publish-form .error[data-for="form"]');
      box.textContent = (box.textContent ? box.textContent + "; " : "") + e.msg;
    }
    if (!Array.isArray(answer.detail)) document.querySelector('#publish-form .error[data-for="form"]').textContent = answer.detail || made.statusText;
    return;
  }
  const reg = await fetch(`/api/publications/${answer.doi}/register`, {method: "POST", headers: auth});
  const done = await reg.json().catch(() => ({}));
  const out = $("published"); out.textContent = "";
  if (!reg.ok) { out.textContent = `Saved as ${answer.doi} (private), not yet registered: ${done.detail}. Try again later.`; return; }
  const link = document.createElement("a"); link.href = done.landingPage; link.textContent = "https://doi.org/" + done.doi; link.id = "doi-link";
  out.append("Published: ", link);
  await api("/api/cart/remove", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({pids})}); refreshCart();
});
// --- the plot: one numeric column over the selection (uPlot, vendored from npm) -------
const PLOT_MAX = 5000;  // points; the selection is read in pages of 500
let plot = null, plotRows = [], plotColumn = null, plotDrawn = 0;
function plotColumns() {
  const cols = ["duration", ...Object.keys(units)];
  return cols.map((c) => [c, c === "duration" ? "Duration [s]" : label(c) + (units[c] ? " [" + units[c] + "]" : "")]);
}
function numberOf(col, r) {
  const v = col === "duration" ? r.duration : r.meta?.[col.slice(5)]?.value;
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}
async function selectionRows() {
  const q = filterQuery();
  q.set("sort", "creationTime"); q.set("order", "asc"); q.set("limit", 500);
  if (!$("select-all-filter").checked && selected.size) q.set("pids", [...selected].join(","));
  const out = [];
  for (let at = 0; at < PLOT_MAX; at += 500) {
    q.set("skip", at);
    const page = await (await api("/api/scans?" + q)).json();
    out.push(...page.data);
    if (page.data.length < 500) return [out, page.count];
  }
  return [out, null];
}
async function drawPlot() {
  const col = $("plot-y").value, byTime = $("plot-x").value === "time";
  if (!col) { $("plot-note").textContent = "no numeric column in this selection"; return; }
  const drawing = ++plotDrawn;  // a later draw (another column, a new filter) wins over this one
  let all, count;
  try { [all, count] = await selectionRows(); } catch (err) { $("plot-note").textContent = "cannot read the selection: " + err.message; return; }
  if (drawing !== plotDrawn) return;
  plotColumn = col + (byTime ? "@time" : "@scan");
  plotRows = all.filter((r) => numberOf(col, r) != null);
  const xs = plotRows.map((r, i) => byTime ? Date.parse(r.start) / 1000 : (Number.isFinite(Number(r.scan_id)) ? Number(r.scan_id) : i + 1));
  if (!byTime) {  // scan numbers need not be in time order: uPlot wants x ascending
    const order = xs.map((x, i) => i).sort((a, b) => xs[a] - xs[b]);
    plotRows = order.map((i) => plotRows[i]);
    xs.sort((a, b) => a - b);
  }
  const ys = plotRows.map((r) => numberOf(col, r));
  const what = selected.size && !$("select-all-filter").checked ? "selected scans" : "scans in the filter";
  $("plot-note").textContent = `${plotRows.length} ${what} with a value` + (count == null ? ` (the first ${PLOT_MAX})` : "");
  const name = plotColumns().find(([c]) => c === col)?.[1] || col;
  const width = Math.max(400, $("plot-panel").clientWidth - 20);
  plot?.destroy();
  plot = new uPlot({
    width, height: 280, scales: {x: {time: byTime}},
    series: [{label: byTime ? "time" : "scan"}, {label: name, stroke: getComputedStyle(document.documentElement).getPropertyValue("--accent").trim() || "#0969da",
              points: {show: true, size: 6}, width: 1}],
    axes: [{stroke: "gray"}, {stroke: "gray"}],
    hooks: {setCursor: [(u) => {
      const i = u.cursor.idx;
      $("plot-hover").textContent = i == null ? "" : `scan ${plotRows[i].scan_id}: ${ys[i]}${units[col] ? " " + units[col] : ""} · ${new Date(plotRows[i].start).toLocaleString()}`;
    }]},
  }, [xs, ys], $("plot"));
  plot.over.addEventListener("click", () => { const i = plot.cursor.idx; if (i != null) showDetail(plotRows[i].pid); });
}
function fillPlotColumns() {
  const select = $("plot-y"), keep = select.value;
  select.replaceChildren(...plotColumns().map(([c, t]) => new Option(t, c)));
  if (keep && [...select.options].some((o) => o.value === keep)) select.value = keep;
}
$("open-plot").addEventListener("click", () => {
  const panel = $("plot-panel");
  panel.hidden = !panel.hidden;
  $("open-plot").setAttribute("aria-expanded", String(!panel.hidden));
  if (!panel.hidden) { fillPlotColumns(); drawPlot(); }
});
for (const id of ["plot-y", "plot-x"]) $(id).addEventListener("change", drawPlot);
// Exposed for the tests: what the chart holds, read back from uPlot itself.
window.scanlogPlot = () => plot && {column: plotColumn, x: [...plot.data[0]], y: [...plot.data[1]], pids: plotRows.map((r) => r.pid)};
window.scanlogPlotPoint = (i) => {  // where point i is on the page
  const box = plot.over.getBoundingClientRect();
  return {x: box.left + plot.valToPos(plot.data[0][i], "x"), y: box.top + plot.valToPos(plot.data[1][i], "y")};
};
for (const id of ["f-since", "f-until", "f-proposal", "f-beamline", "f-q", "f-rating", "select-all-filter"]) {
  $(id).addEventListener("change", () => { if (!$("plot-panel").hidden) { fillPlotColumns(); drawPlot(); } });
}

if (token) refreshCart().catch(() => {});
if (token) api("/api/me").then((r) => r.json()).then((u) => { me = u; }).catch(() => {});
fillAddColumn();
fillPickers();
live();
