// Downloads from the table: the selected scans' files, or the cart's, as one zip with a manifest
// of sizes and checksums (the server streams it: /api/downloads/*.zip).
//
// Signed in, the token travels in a header, which a plain link cannot send: the archive is
// fetched and handed to the browser as a blob (Chromium keeps a large one on disk). Nobody
// signed in reads only published scans, and a plain link lets the browser download them itself.
// Over the facility's archive limit the answer is the size and a transfer link per dataset.
import {$, auth, el, status, token} from "./session.js";

// Only links the browser may follow: a transfer link is the facility's setting, still checked.
const safeUrl = (url) => { try { return ["https:", "http:"].includes(new URL(url).protocol) ? url : null; } catch { return null; } };

function showTransfer(body) {
  const note = $("download-note"); note.replaceChildren(el("span", body.detail + " "));
  for (const t of body.transfer || []) {
    const url = t.url && safeUrl(t.url);
    if (!url) continue;
    const a = el("a", "transfer " + t.dataset); a.href = url; a.rel = "noopener";
    note.append(a, " ");
  }
  note.hidden = false;
}

function save(href, name) {
  const a = document.createElement("a");
  a.href = href; a.download = name;
  document.body.append(a); a.click(); a.remove();
}

export async function downloadZip(path, name) {
  $("download-note").hidden = true;
  if (!token) { save(path, name); return; }
  status("preparing " + name + " …");
  const response = await fetch(path, {headers: auth});
  if (response.status === 409) { showTransfer(await response.json()); status("too large for one archive"); return; }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    status("download refused: " + (typeof body.detail === "string" ? body.detail : response.statusText));
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  save(url, name);
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  const left = Number(response.headers.get("X-Files-Not-Included") || 0);
  status(name + " downloaded" + (left ? `; ${left} file(s) not included: manifest.json says why` : ""));
}

// selected(): the pids the table has selected.
export function setupDownloads(selected) {
  $("download-selected").addEventListener("click", () => {
    const pids = [...selected()];
    if (!pids.length) { status("select scans to download their files"); return; }
    const query = new URLSearchParams(pids.map((pid) => ["pid", pid]));
    downloadZip("/api/downloads/datasets.zip?" + query, pids.length === 1 ? pids[0].replaceAll("/", "_") + ".zip" : `datasets-${pids.length}.zip`);
  });
  $("download-cart").addEventListener("click", () => downloadZip("/api/downloads/cart.zip", "cart.zip"));
  $("download-cart").hidden = !token;  // a cart is a signed-in user's
}
