// Who is asking, and the one way the page asks the API.
//
// A token comes in the address's fragment (#token=...): a browser never sends the fragment, so
// the token is in no request line and no server's access log. It is kept for the tab
// (sessionStorage) and taken out of the address at once, so it is not bookmarked, shared or
// kept in the history either. A token in the query (?token=) has reached the server already:
// it is not used, and the page says how to sign in instead.
const TOKEN_KEY = "scanlog-token";

function takeToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const query = new URLSearchParams(location.search);
  const inQuery = query.has("token");
  if (fragment.get("token")) sessionStorage.setItem(TOKEN_KEY, fragment.get("token"));
  if (inQuery || fragment.has("token")) {
    query.delete("token");
    fragment.delete("token");
    history.replaceState(null, "", location.pathname + (query.toString() ? "?" + query : "") + (fragment.toString() ? "#" + fragment : ""));
  }
  return inQuery ? "A token in the address's query (?token=…) is sent to the server and may be logged, so it is not used: "
                   + "open the page with #token=… instead." : "";
}

export const tokenNotice = takeToken();
export const token = sessionStorage.getItem(TOKEN_KEY);
export const auth = token ? {Authorization: "Bearer " + token} : {};

export const $ = (id) => document.getElementById(id);

// Everything a user or the catalogue supplies is written with textContent, never as markup.
export function el(tag, text, className) { const e = document.createElement(tag); if (text != null) e.textContent = text; if (className) e.className = className; return e; }

export async function api(path, options = {}) {
  const response = await fetch(path, {...options, headers: {...auth, ...(options.headers || {})}});
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    // The API's detail: a sentence (an objection naming what it objects to), or a list of them.
    const detail = typeof body.detail === "string" ? body.detail : body.detail ? JSON.stringify(body.detail) : "";
    throw Object.assign(new Error(detail || response.statusText), {status: response.status});
  }
  return response;
}

// A JSON body sent with the method given (PUT, POST, PATCH).
export function send(method, body) { return {method, headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)}; }

// Who is signed in ({user, groups}), or null: asked once, by every part that needs the name.
export const signedIn = token ? api("/api/me").then((r) => r.json()).catch(() => null) : Promise.resolve(null);

// The bar's one line of news: loaded, live, or what went wrong.
export function status(text) { $("status").textContent = text; }
