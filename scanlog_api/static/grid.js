// The table itself, drawn from the page's state (view): the head (sort, hide, drag to reorder)
// and the rows (select with shift-click ranges, stars, details, the latest reduction's state,
// the files' fixity).
// What a click changes is the caller's: on.sort(col), on.hide(col), on.move(from, to) and
// on.selection() (after the selection changed).
import {$, api, el, send, status} from "./session.js";
import {starWidget} from "./stars.js";
import {showDetail} from "./detail.js";
import {cellText} from "./format.js";
import {scanPath} from "./query.js";
import {headerText, label} from "./columns.js";
import {fixityMark} from "./fixity.js";

export function renderHead(view, on) {
  const head = $("head");
  head.replaceChildren(el("th", "✓"));
  view.columns.forEach((col, i) => {
    const th = el("th");
    th.draggable = true;
    th.dataset.col = col;
    const name = el("span", headerText(col, view.units, view.sort), "name");
    name.addEventListener("click", () => on.sort(col));
    const x = el("span", "×", "x");
    x.title = "hide " + label(col);
    x.addEventListener("click", (e) => { e.stopPropagation(); on.hide(col); });
    th.append(name, x);
    th.addEventListener("dragstart", (e) => e.dataTransfer.setData("text/plain", String(i)));
    th.addEventListener("dragover", (e) => e.preventDefault());
    th.addEventListener("drop", (e) => { e.preventDefault(); on.move(Number(e.dataTransfer.getData("text/plain")), i); });
    head.appendChild(th);
  });
  head.appendChild(el("th", ""));
}

function stars(r) {
  return starWidget(r.rating, "rating of scan " + r.scan_id, async (value) => {
    try {
      await api(scanPath(r.pid, "/rating"), send("PUT", {value}));
      r.rating = value;
    } catch (err) { status("rating not saved: " + err.message); throw err; }
  });
}

function renderRow(view, r, fresh, on) {
  const tr = el("tr");
  tr.dataset.pid = r.pid;
  if (fresh) tr.className = "fresh";
  const check = el("input", null, "select");
  check.type = "checkbox";
  check.checked = view.selected.has(r.pid);
  check.addEventListener("click", (e) => {
    const pids = view.rows.map((x) => x.pid);
    if (e.shiftKey && view.lastClicked !== null) {
      const [a, b] = [pids.indexOf(view.lastClicked), pids.indexOf(r.pid)].sort((x, y) => x - y);
      for (const p of pids.slice(a, b + 1)) check.checked ? view.selected.add(p) : view.selected.delete(p);
      renderBody(view, on);
    } else {
      check.checked ? view.selected.add(r.pid) : view.selected.delete(r.pid);
    }
    view.lastClicked = r.pid;
    on.selection();
  });
  const box = el("td"); box.appendChild(check);
  tr.appendChild(box);
  for (const col of view.columns) {
    const td = el("td", null, "cell");
    td.dataset.col = col;
    if (col === "rating") { td.appendChild(stars(r)); } else {
      const text = cellText(col, r);
      td.textContent = text;
      td.title = text;
      if (col === "status") td.classList.add(String(r.status));
    }
    tr.appendChild(td);
  }
  const more = el("td");
  const a = el("a", "details"); a.href = "#";
  a.addEventListener("click", (e) => { e.preventDefault(); showDetail(r.pid); });
  more.appendChild(a);
  if (r.reduction) {  // the state of the scan's latest reduction job
    const badge = el("span", " ⚙ " + r.reduction, "reduction " + r.reduction);
    badge.title = "reduction " + r.reduction;
    more.appendChild(badge);
  }
  const fixity = fixityMark(r.fixity);  // what the fixity worker found of the scan's files
  if (fixity) {
    const mark = el("span", " " + fixity.text, "fixity " + fixity.state);
    mark.title = fixity.title;
    more.appendChild(mark);
  }
  tr.appendChild(more);
  return tr;
}

export function renderBody(view, on) { $("rows").replaceChildren(...view.rows.map((r) => renderRow(view, r, false, on))); }

// A live update of a row keeps the keyboard where it was (rating with the arrow keys updates
// the row, which comes back over the stream).
export function replaceRow(view, r, on) {
  const old = $("rows").querySelector(`tr[data-pid="${CSS.escape(r.pid)}"]`);
  if (!old) return;
  const widget = old.querySelector(".stars");
  const focused = old.contains(document.activeElement) && document.activeElement === widget;
  // While the user rates this row, the value they see is theirs, not one the stream echoes back,
  // and the widget itself stays: a second widget would save on its own, and an earlier value it
  // was still saving could land after the user's last one.
  const rating = widget && (focused || widget.dataset.saving);
  if (rating) r.rating = widget.dataset.value === "" ? null : Number(widget.dataset.value);
  const fresh = renderRow(view, r, true, on);
  if (rating) fresh.querySelector(".stars")?.replaceWith(widget);
  old.replaceWith(fresh);
  if (focused) widget.focus();
}

// A new scan first; the page keeps its size.
export function prependRow(view, r, on, pageSize) {
  $("rows").prepend(renderRow(view, r, true, on));
  $("rows").querySelectorAll("tr")[pageSize]?.remove();
}
