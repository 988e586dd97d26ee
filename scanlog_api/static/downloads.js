// Downloads from the table: the selected scans' files, or the cart's, as one zip with a manifest
// of sizes and checksums (the server streams it: /api/downloads/*.zip).
//
// Always the browser's own download: it streams to disk, whatever the size, and shows progress.
// Nobody signed in reads only published scans, and a plain link does it. Signed in, the token
// travels in a header, which a link cannot send, and must never be put in a URL (addresses land
// in logs and history): the page asks for a download ticket (POST, token in the header; access
// checked then) and follows the ticket's URL. The ticket names that one download only and lasts
// a minute to start (a single file's, an hour to resume): a capability, not the user's token.
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

const sized = (n) => n >= 1e9 ? (n / 1e9).toFixed(1) + " GB" : n >= 1e6 ? (n / 1e6).toFixed(1) + " MB" : Math.ceil(n / 1e3) + " kB";

// what: the ticket's body ({pids}, {cart: true} or {file: {pid, path}}); anonymous: the plain
// link for nobody signed in (null: signed-in only).
export async function download(what, anonymous, name) {
  $("download-note").hidden = true;
  if (!token) { if (anonymous) save(anonymous, name); return; }
  status("preparing " + name + " …");
  const response = await fetch("/api/downloads/tickets", {
    method: "POST", headers: {...auth, "Content-Type": "application/json"}, body: JSON.stringify(what)});
  const body = await response.json().catch(() => ({}));
  if (response.status === 409) { showTransfer(body); status("too large for one archive"); return; }
  if (!response.ok) {
    status("download refused: " + (typeof body.detail === "string" ? body.detail : response.statusText));
    return;
  }
  save(body.url, body.name);
  const left = body.notIncluded ? `; ${body.notIncluded} file(s) not included: manifest.json says why` : "";
  status(`${body.name} (${body.files} file(s), ${sized(body.size)}): your browser is downloading it${left}`);
}

// One file of a dataset (resumable by the browser: the ticket serves Range for an hour).
export function downloadFile(pid, path) {
  const name = path.split("/").pop();
  return download({file: {pid, path}}, "/api/downloads/file?" + new URLSearchParams({pid, path}), name);
}

// selected(): the pids the table has selected.
export function setupDownloads(selected) {
  $("download-selected").addEventListener("click", () => {
    const pids = [...selected()];
    if (!pids.length) { status("select scans to download their files"); return; }
    const query = new URLSearchParams(pids.map((pid) => ["pid", pid]));
    download({pids}, "/api/downloads/datasets.zip?" + query, pids.length === 1 ? pids[0].replaceAll("/", "_") + ".zip" : `datasets-${pids.length}.zip`);
  });
  $("download-cart").addEventListener("click", () => download({cart: true}, null, "cart.zip"));
  $("download-cart").hidden = !token;  // a cart is a signed-in user's
}
