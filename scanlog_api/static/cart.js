// The cart and the publication form: selected scans into the cart, the form prefilled from them,
// a DOI drafted, then registered; the API's objections shown at their fields.
import {$, api, auth, el, send, status, token} from "./session.js";
import {formErrors, publicationBody} from "./publication.js";
import {setupDownloads} from "./downloads.js";

async function refreshCart() {
  if (!token) return [];
  const cart = await (await api("/api/cart")).json();
  $("cart-count").textContent = cart.count;
  const list = $("cart-list"); list.replaceChildren();
  for (const pid of cart.data) {
    const li = el("li", pid + " ");
    const remove = el("button", "remove");
    remove.addEventListener("click", async () => { await api("/api/cart/remove", send("POST", {pids: [pid]})); refreshCart(); });
    li.append(remove); list.append(li);
  }
  return cart.data;
}

function showErrors(detail, statusText) {
  const form = document.querySelector('#publish-form .error[data-for="form"]');
  for (const [field, msg] of formErrors(detail, statusText)) {
    const box = document.querySelector(`#publish-form .error[data-for="${CSS.escape(field)}"]`) || form;
    box.textContent = (box.textContent ? box.textContent + "; " : "") + msg;
  }
}

async function publish(ev) {
  ev.preventDefault(); const f = ev.target;
  document.querySelectorAll("#publish-form .error").forEach((e) => (e.textContent = ""));
  const pids = await refreshCart();
  const text = Object.fromEntries(["title", "abstract", "publisher", "resource_type", "publication_year", "license",
                                   "subjects", "creators", "related", "funding", "embargo_until"].map((name) => [name, f[name].value]));
  const made = await fetch("/api/publications", {method: "POST", headers: {...auth, "Content-Type": "application/json"},
                                                 body: JSON.stringify(publicationBody(text, pids))});
  const answer = await made.json().catch(() => ({}));
  if (!made.ok) { showErrors(answer.detail, made.statusText); return; }
  const reg = await fetch(`/api/publications/${answer.doi}/register`, {method: "POST", headers: auth});
  const done = await reg.json().catch(() => ({}));
  const out = $("published"); out.textContent = "";
  if (!reg.ok) { out.textContent = `Saved as ${answer.doi} (private), not yet registered: ${done.detail}. Try again later.`; return; }
  const link = el("a", "https://doi.org/" + done.doi); link.href = done.landingPage; link.id = "doi-link";
  out.append("Published: ", link);
  if (done.embargoUntil && !done.releasedTime) out.append(` (under embargo: files public from ${done.embargoUntil.slice(0, 10)})`);
  await api("/api/cart/remove", send("POST", {pids})); refreshCart();
}

// selected(): the pids the table has selected.
export function setupCart(selected) {
  $("add-to-cart").addEventListener("click", async () => {
    const pids = [...selected()];
    if (!pids.length) { status("select scans to add to the cart"); return; }
    try { await api("/api/cart", send("PUT", {pids})); status(pids.length + " added to the cart"); refreshCart(); }
    catch (err) { status("not added: " + err.message); }
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
  $("publish-form").addEventListener("submit", publish);
  if (token) refreshCart().catch(() => {});
  setupDownloads(selected);
}
