// The parts of a scan's detail view that show what the catalogue holds (no state of the table).
import {$, el} from "./session.js";
import {dateText, sameUnit, siText, sizeText, unitText, valueText} from "./format.js";
import {fixityText} from "./fixity.js";

export function detailLinks(d) {
  const p = el("p", null, "links");
  p.append("pid ", el("code", d.pid, "pid"), " ");
  const copy = el("button", "copy pid"); copy.id = "copy-pid"; copy.type = "button";
  copy.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(d.pid); copy.textContent = "copied"; }
    catch (err) { copy.textContent = "select the pid to copy it"; }
  });
  p.append(copy);
  if (d.scicatUrl) { const a = el("a", "open in SciCat"); a.href = d.scicatUrl; a.id = "scicat-link"; a.target = "_blank"; a.rel = "noopener"; p.append(" ", a); }
  // The facility's JupyterHub (a setting the server checked; checked again: only http(s) is followed).
  const notebook = httpUrl(d.notebookUrl);
  if (notebook) { const a = el("a", "open in notebook"); a.href = notebook; a.id = "notebook-link"; a.target = "_blank"; a.rel = "noopener"; p.append(" ", a); }
  return p;
}

// Entries grouped as in the beamline's configuration (each entry carries its group); the
// scan's own fields (scan_*, message_*, config_*) under "Scan".
export function metadataGroups(meta) {
  const box = el("section"); box.id = "metadata";
  const groups = new Map();
  for (const [key, m] of Object.entries(meta || {})) {
    if (m == null || typeof m !== "object" || !("value" in m || "error" in m)) continue;
    const group = m.group || (/^(scan|message|config)_/.test(key) ? "Scan" : "Other");
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push([key, m]);
  }
  const names = [...groups.keys()].sort((a, b) => (a === "Scan" ? -1 : b === "Scan" ? 1 : a === "Other" ? 1 : b === "Other" ? -1 : a.localeCompare(b)));
  for (const name of names) {
    const section = el("div", null, "meta-group"); section.dataset.group = name;
    section.appendChild(el("h3", name));
    const dl = el("dl");
    for (const [key, m] of groups.get(name).sort((a, b) => a[0].localeCompare(b[0]))) {
      const dt = el("dt", key.replace(/_/g, " ")); dt.title = m.device ? `${m.device}/${m.attribute}` : key;
      const dd = el("dd"); dd.dataset.key = key;
      if (m.error) {
        dd.appendChild(el("span", "unreadable: " + m.error, "meta-error"));
      } else {
        const value = el("span", valueText(m.value) + (m.unit ? " " + m.unit : ""), "value");
        if ("rawValue" in m) value.title = "raw value: " + valueText(m.rawValue);
        dd.appendChild(value);
        if (m.valueSI != null && m.unitSI && !sameUnit(m.unitSI, m.unit)) dd.appendChild(el("span", `(${siText(m.valueSI)} ${unitText(m.unitSI)})`, "si"));
      }
      dl.append(dt, dd);
    }
    section.appendChild(dl);
    box.appendChild(section);
  }
  return box;
}

const httpUrl = (url) => { try { return ["https:", "http:"].includes(new URL(url).protocol) ? url : null; } catch { return null; } };

// The files, with what the fixity worker found: "checksums: ok", or each problem file and why;
// each file's checksum (as SciCat keeps it: chk, its datablock's chkAlg) and, given download(path),
// a button that downloads it (downloads.js: a ticket when signed in, a plain link for a published scan).
export function fileTable(list, fixity, download) {
  const box = el("section"); box.id = "files"; box.appendChild(el("h3", "Files (" + list.length + ")"));
  const check = el("p", fixityText(fixity), "fixity"); check.id = "fixity"; check.dataset.state = fixity ? fixity.state : "unchecked";
  if (fixity?.checkedAt) check.title = "checked " + dateText(fixity.checkedAt) + (fixity.verifiedAt ? ", verified " + dateText(fixity.verifiedAt) : "");
  box.appendChild(check);
  const table = el("table", null, "files");
  for (const f of list) {
    const tr = el("tr"); tr.append(el("td", f.path), el("td", sizeText(f.size)), el("td", dateText(f.time)));
    const chk = el("td", f.chk ? String(f.chk).slice(0, 12) + "…" : "", "chk");
    if (f.chk) chk.title = (f.chkAlg ? f.chkAlg + " " : "") + f.chk;
    tr.appendChild(chk);
    if (download) {
      const get = el("button", "Download", "file-download"); get.type = "button";
      get.title = "Download " + f.path.split("/").pop();
      get.addEventListener("click", () => download(f.path));
      tr.appendChild(el("td")).appendChild(get);
    }
    table.appendChild(tr);
  }
  box.appendChild(table);
  return box;
}

export function gallery(attachments) {
  const box = el("section"); box.appendChild(el("h3", "Images (" + attachments.length + ")"));
  const row = el("div", null, "gallery"); row.id = "gallery";
  for (const a of attachments) {
    if (!String(a.thumbnail).startsWith("data:image/")) continue;  // a data URL of an image, never a link elsewhere
    const img = el("img"); img.src = a.thumbnail; img.alt = a.caption; img.title = a.caption; img.tabIndex = 0;
    const open = () => { $("image-full").src = a.thumbnail; $("image-full").alt = a.caption; $("image-caption").textContent = a.caption; $("image-view").showModal(); };
    img.addEventListener("click", open);
    img.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
    row.appendChild(img);
  }
  box.appendChild(row);
  return box;
}
