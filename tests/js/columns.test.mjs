// columns.js: which columns, their order, headers, sorting, and the layout kept per user.
import test from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_COLUMNS, add, addable, headerText, hide, label, layoutKey, metaColumns, move, nextSort, parseLayout,
  plotChoices, readLayout, saveLayout,
} from "../../scanlog_api/static/columns.js";

// The browser's localStorage, as the page uses it (getItem answers null for a missing key).
class Storage {
  constructor(items = {}) { this.items = new Map(Object.entries(items)); }
  getItem(k) { return this.items.has(k) ? this.items.get(k) : null; }
  setItem(k, v) { this.items.set(k, String(v)); }
  removeItem(k) { this.items.delete(k); }
  keys() { return [...this.items.keys()]; }
}

const TOKEN = "s3cr3t-token-abcdefgh";

test("the layout is kept under the user's name, never under a piece of the token", () => {
  const storage = new Storage();
  saveLayout(storage, "alice", ["title", "scan_id"]);
  assert.deepEqual(storage.keys(), ["scanlog-layout:user:alice"]);
  assert.ok(!storage.keys().some((k) => k.includes(TOKEN.slice(-8))));
  assert.deepEqual(readLayout(storage, "alice", TOKEN), ["title", "scan_id"]);
  assert.equal(layoutKey(null), "scanlog-layout:anonymous");
  assert.notEqual(layoutKey("anonymous"), layoutKey(null));  // a user called "anonymous" has a layout of their own
});

test("a layout kept under the token's last 8 characters moves to the user's key, and that key goes", () => {
  const storage = new Storage({["scanlog-layout:" + TOKEN.slice(-8)]: '["status","scan_id"]'});
  assert.deepEqual(readLayout(storage, "alice", TOKEN), ["status", "scan_id"]);
  assert.deepEqual(storage.keys(), ["scanlog-layout:user:alice"]);
  // the user's own layout, where there is one, wins; the old key goes all the same
  const both = new Storage({["scanlog-layout:" + TOKEN.slice(-8)]: '["status"]', "scanlog-layout:user:alice": '["title"]'});
  assert.deepEqual(readLayout(both, "alice", TOKEN), ["title"]);
  assert.deepEqual(both.keys(), ["scanlog-layout:user:alice"]);
  // who it belongs to unknown (/api/me did not answer): nothing moves, nothing is lost
  const unknown = new Storage({["scanlog-layout:" + TOKEN.slice(-8)]: '["status"]'});
  assert.deepEqual(readLayout(unknown, null, TOKEN), DEFAULT_COLUMNS);
  assert.deepEqual(unknown.keys(), ["scanlog-layout:" + TOKEN.slice(-8)]);
});

test("a stored layout that is not a list of column ids gives the default one", () => {
  for (const text of [null, "", "not json", "{}", "[]", "[1, 2]", '["title", null]', '"title"']) {
    assert.deepEqual(parseLayout(text), DEFAULT_COLUMNS, String(text));
  }
  assert.deepEqual(parseLayout('["title","title","meta:x"]'), ["title", "meta:x"]);
  const layout = parseLayout(null);
  layout.push("meta:y");  // each caller gets its own list
  assert.deepEqual(parseLayout(null), DEFAULT_COLUMNS);
});

test("hide, add and move give new lists and leave the old one as it was", () => {
  const cols = ["scan_id", "title", "start", "files"];
  assert.deepEqual(hide(cols, "files"), ["scan_id", "title", "start"]);
  assert.deepEqual(add(cols, "meta:photon_energy"), [...cols, "meta:photon_energy"]);
  assert.equal(add(cols, "title"), cols);  // shown already
  assert.equal(add(cols, ""), cols);
  assert.deepEqual(move(cols, 1, 0), ["title", "scan_id", "start", "files"]);  // Title dropped on Scan
  assert.deepEqual(move(cols, 0, 3), ["title", "start", "files", "scan_id"]);
  assert.deepEqual(cols, ["scan_id", "title", "start", "files"]);
});

test("a drop of something that is not a column moves nothing", () => {
  const cols = ["scan_id", "title"];
  for (const from of [NaN, -1, 2, 0.5]) assert.equal(move(cols, from, 0), cols, String(from));
  assert.equal(move(cols, 0, 0), cols);
});

test("headers: label, unit, the sorted column's arrow", () => {
  const units = {"meta:photon_energy": "eV"};
  assert.equal(label("scan_id"), "Scan");
  assert.equal(label("meta:photon_energy"), "photon_energy");
  assert.equal(headerText("meta:photon_energy", units, {key: "creationTime", order: "desc"}), "photon_energy [eV]");
  assert.equal(headerText("title", units, {key: "title", order: "asc"}), "Title ▲");
  assert.equal(headerText("title", units, {key: "title", order: "desc"}), "Title ▼");
});

test("a click sorts descending; a second click on the same column ascending, then back", () => {
  let sort = {key: "creationTime", order: "desc"};
  sort = nextSort("title", sort);
  assert.deepEqual(sort, {key: "title", order: "desc"});
  sort = nextSort("title", sort);
  assert.deepEqual(sort, {key: "title", order: "asc"});
  sort = nextSort("title", sort);
  assert.deepEqual(sort, {key: "title", order: "desc"});
  assert.deepEqual(nextSort("meta:x", sort), {key: "meta:x", order: "desc"});
});

test("what one may add and plot", () => {
  const units = metaColumns({photon_energy: "eV", mode: null});
  assert.deepEqual(units, {"meta:photon_energy": "eV", "meta:mode": null});
  assert.deepEqual(metaColumns(undefined), {});
  assert.deepEqual(addable(["scan_id", "title", "start", "duration", "status", "rating", "meta:mode"], units),
                   [["files", "Files"], ["public", "Public"], ["meta:photon_energy", "photon_energy"]]);
  assert.deepEqual(plotChoices(units), [["duration", "Duration [s]"], ["meta:photon_energy", "photon_energy [eV]"],
                                        ["meta:mode", "mode"]]);
});
