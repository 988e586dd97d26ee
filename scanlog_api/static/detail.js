// A scan's detail view, as a person reads it: links, your rating and the average, the metadata
// by group, files, images, reductions (run again, cancel), the rating history and comments.
// A rating given here is announced as a "scanlog:rated" event on the document (the table reloads).
import {$, api, el, send, signedIn, status, token} from "./session.js";
import {starWidget} from "./stars.js";
import {detailLinks, fileTable, gallery, metadataGroups} from "./detail-parts.js";
import {dateText} from "./format.js";
import {scanPath} from "./query.js";
import {derivedCurve} from "./curve.js";
import {downloadFile} from "./downloads.js";

function ratingPanel(d) {
  const p = el("p"); p.id = "rating-panel";
  const s = d.ratingSummary || {};
  p.append("Your rating ");
  p.appendChild(starWidget(s.mine ?? null, "your rating", async (value) => {
    await api(scanPath(d.pid, "/rating"), send("PUT", {value}));
    showDetail(d.pid);
    document.dispatchEvent(new CustomEvent("scanlog:rated", {detail: {pid: d.pid}}));
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
              el("span", ` · attempt ${j.attempt ?? 0}` + (j.inputs ? ` · ${j.inputs} scans reduced together` : "") +
                         (j.endedAt ? " · ended " + dateText(j.endedAt) : "")));
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
      catch (err) { status("not cancelled: " + err.message); }
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
      catch (err) { status("parameters are not JSON: " + err.message); return; }
      try { await api(scanPath(pid, "/reductions"), send("POST", body)); showDetail(pid); }
      catch (err) { status("not run again: " + err.message); }
    });
    again.append(params, go);
    box.append(again);
  }
  return box;
}

function ratingHistory(ratings) {
  const history = el("details"); history.id = "rating-history";
  history.appendChild(el("summary", "Rating history (" + ratings.length + ")"));
  const list = el("ul");
  for (const r of ratings) list.appendChild(el("li", `${r.user}: ${r.value ?? "unrated"} (${dateText(r.at)})`));
  history.appendChild(list);
  return history;
}

// Comments: everyone's, your own with edit and delete; a new one, and an image to attach.
function comments(d, pid, me) {
  const box = document.createDocumentFragment();
  box.appendChild(el("h3", "Comments"));
  const list = el("ul"); list.id = "comments";
  for (const c of d.comments) {
    const li = el("li");
    li.appendChild(el("span", `${c.author} (${dateText(c.createdAt)}${c.updatedAt ? ", edited" : ""}): ${c.text}`));
    if (me && c.author === me.user) {
      const edit = el("button", "edit", "comment-edit");
      edit.addEventListener("click", () => {
        const text = el("input", null, "comment-edit-text"); text.value = c.text; text.size = 50;
        const save = el("button", "save", "comment-save");
        save.addEventListener("click", async () => {
          try { await api("/api/comments/" + encodeURIComponent(c.id), send("PATCH", {text: text.value})); showDetail(pid); }
          catch (err) { status("comment not saved: " + err.message); }
        });
        li.replaceChildren(text, save);
      });
      const del = el("button", "delete", "comment-delete");
      del.addEventListener("click", async () => {
        try { await api("/api/comments/" + encodeURIComponent(c.id), {method: "DELETE"}); showDetail(pid); }
        catch (err) { status("comment not deleted: " + err.message); }
      });
      li.append(" ", edit, del);
    }
    list.appendChild(li);
  }
  box.appendChild(list);
  const input = el("input"); input.id = "comment-text"; input.placeholder = "comment"; input.size = 50;
  const add = el("button", "add comment"); add.id = "comment-send";
  add.addEventListener("click", async () => {
    try { await api(scanPath(pid, "/comments"), send("POST", {text: input.value})); showDetail(pid); }
    catch (err) { status("comment not saved: " + err.message); }
  });
  const upload = el("input"); upload.type = "file"; upload.accept = "image/*"; upload.id = "attach";
  upload.addEventListener("change", async () => {
    const form = new FormData(); form.append("image", upload.files[0]); form.append("caption", upload.files[0].name);
    try { await api(scanPath(pid, "/attachments"), {method: "POST", body: form}); showDetail(pid); }
    catch (err) { status("image not saved: " + err.message); }
  });
  const uploadLabel = el("label"); uploadLabel.append("Attach an image ", upload);
  box.append(input, add, el("br"), uploadLabel);
  return box;
}

export async function showDetail(pid) {
  const body = $("detail-body");
  body.replaceChildren();
  try {
    const [d, me] = await Promise.all([api(scanPath(pid)).then((r) => r.json()), signedIn]);
    const title = el("h2", d.title); title.id = "detail-title";
    body.append(title, detailLinks(d), ratingPanel(d), metadataGroups(d.scientificMetadata), derivedCurve(d), fileTable(d.files, d.fixity, (path) => downloadFile(pid, path)),
                gallery(d.attachments), reductionList(d.reductions || [], pid), ratingHistory(d.ratings), comments(d, pid, me));
  } catch (err) { body.textContent = "cannot load: " + err.message; }
  if (!$("detail").open) $("detail").showModal();
}

$("close-detail").addEventListener("click", () => $("detail").close());
$("close-image").addEventListener("click", () => $("image-view").close());
