// query.js: filter state -> the API's query strings.
import test from "node:test";
import assert from "node:assert/strict";
import {
  EMPTY_FILTER, SELECTION_PAGE, csvParams, filterFromSearch, filterParams, matchesView, pageParams, selectionParams,
  scanPath, streamParams,
} from "../../scanlog_api/static/query.js";

const NOW = Date.parse("2024-05-01T12:00:00Z");
const entries = (q) => Object.fromEntries(q);

test("an empty filter asks for everything", () => {
  assert.equal(String(filterParams(EMPTY_FILTER, NOW)), "");
});

test("a time range counts back from now; a custom one takes the form's local times as UTC", () => {
  assert.deepEqual(entries(filterParams({...EMPTY_FILTER, range: "24"}, NOW)), {since: "2024-04-30T12:00:00.000Z"});
  assert.deepEqual(entries(filterParams({...EMPTY_FILTER, range: "1"}, NOW)), {since: "2024-05-01T11:00:00.000Z"});
  const custom = {...EMPTY_FILTER, range: "custom", since: "2024-04-01T08:30", until: ""};
  assert.deepEqual(entries(filterParams(custom, NOW)), {since: new Date("2024-04-01T08:30").toISOString()});
  assert.deepEqual(entries(filterParams({...custom, since: "", until: "2024-04-02T00:00"}, NOW)),
                   {until: new Date("2024-04-02T00:00").toISOString()});
  // since and until are the custom range's only: another range ignores them
  assert.deepEqual(entries(filterParams({...custom, range: ""}, NOW)), {});
});

test("text fields are trimmed, blank ones left out", () => {
  const f = {...EMPTY_FILTER, proposal: " 20240001 ", beamline: "", q: "  ", minRating: "1.5"};
  assert.deepEqual(entries(filterParams(f, NOW)), {proposal: "20240001", min_rating: "1.5"});
  assert.deepEqual(entries(filterParams({...EMPTY_FILTER, q: "beam lost", beamline: "bl1"}, NOW)),
                   {beamline: "bl1", q: "beam lost"});
});

test("a page: the filter with where it starts and how it is sorted", () => {
  const q = pageParams({...EMPTY_FILTER, proposal: "A"}, {skip: 50, limit: 50, sort: "meta:x", order: "asc"}, NOW);
  assert.equal(String(q), "proposal=A&skip=50&limit=50&sort=meta%3Ax&order=asc");
});

test("the live stream follows only proposal, beamline, the time bound and the conditions", () => {
  const f = {...EMPTY_FILTER, range: "1", proposal: "A", beamline: "bl1", q: "x", minRating: "2"};
  assert.equal(String(streamParams(f, NOW)), "since=2024-05-01T11%3A00%3A00.000Z&proposal=A&beamline=bl1");
  assert.equal(String(streamParams(EMPTY_FILTER, NOW)), "");
  const custom = {...EMPTY_FILTER, range: "custom", since: "2024-04-01T00:00Z", until: "2024-04-02T00:00Z"};
  assert.deepEqual([...streamParams(custom, NOW).keys()], ["since"]);  // no until: new scans are later
  assert.deepEqual(streamParams({...f, where: ["e:lt:1:eV", "s:exists"]}, NOW).getAll("where"), ["e:lt:1:eV", "s:exists"]);
});

test("conditions go to every query, one where parameter each, in order", () => {
  const f = {...EMPTY_FILTER, proposal: "A", where: ["photon_energy:between:8000:10000:eV", "t:lt:-253:degC"]};
  assert.equal(String(filterParams(f, NOW)),
               "proposal=A&where=photon_energy%3Abetween%3A8000%3A10000%3AeV&where=t%3Alt%3A-253%3AdegC");
  const page = pageParams(f, {skip: 0, limit: 50, sort: "creationTime", order: "desc"}, NOW);
  const csv = csvParams(f, {columns: ["title"], sort: "title", order: "asc", pids: null}, NOW);
  const plot = selectionParams(f, null, 0, NOW);
  for (const q of [page, csv, plot]) assert.deepEqual(q.getAll("where"), f.where);
});

test("the CSV: visible columns in order, the table's sort, the selection or the whole filter", () => {
  const f = {...EMPTY_FILTER, proposal: "A"};
  const picked = csvParams(f, {columns: ["title", "scan_id", "meta:e"], sort: "creationTime", order: "desc", pids: ["p/1", "p/2"]}, NOW);
  assert.deepEqual(entries(picked), {proposal: "A", columns: "title,scan_id,meta:e", sort: "creationTime", order: "desc", pids: "p/1,p/2"});
  const all = csvParams(f, {columns: ["title"], sort: "title", order: "asc", pids: null}, NOW);
  assert.equal(all.has("pids"), false);
});

test("the plot reads the selection oldest first, in pages", () => {
  const q = selectionParams({...EMPTY_FILTER, beamline: "bl1"}, ["p1"], 2 * SELECTION_PAGE, NOW);
  assert.deepEqual(entries(q), {beamline: "bl1", sort: "creationTime", order: "asc", limit: String(SELECTION_PAGE),
                                pids: "p1", skip: String(2 * SELECTION_PAGE)});
  assert.equal(selectionParams(EMPTY_FILTER, null, 0, NOW).has("pids"), false);
});

test("a live scan joins the first page, newest first, of its proposal and beamline only", () => {
  const first = {skip: 0, sort: "creationTime", order: "desc"};
  const scan = {pid: "p", proposal: "A", beamline: "bl1"};
  assert.ok(matchesView(scan, EMPTY_FILTER, first));
  assert.ok(matchesView(scan, {...EMPTY_FILTER, proposal: "A", beamline: "bl1", range: "1"}, first));
  assert.ok(!matchesView(scan, {...EMPTY_FILTER, proposal: "B"}, first));
  assert.ok(!matchesView(scan, {...EMPTY_FILTER, beamline: "bl2"}, first));
  assert.ok(!matchesView(scan, EMPTY_FILTER, {...first, skip: 50}));
  assert.ok(!matchesView(scan, EMPTY_FILTER, {...first, order: "asc"}));
  assert.ok(!matchesView(scan, EMPTY_FILTER, {...first, sort: "title"}));
  // a search or a rating filter the page cannot judge: the row waits for the next load
  assert.ok(!matchesView(scan, {...EMPTY_FILTER, q: "x"}, first));
  assert.ok(!matchesView(scan, {...EMPTY_FILTER, minRating: "1"}, first));
});

test("a link presets proposal, beamline and conditions, nothing else", () => {
  assert.deepEqual(filterFromSearch("?proposal=A&beamline=bl1&q=x&token=t"), {...EMPTY_FILTER, proposal: "A", beamline: "bl1"});
  assert.deepEqual(filterFromSearch(""), EMPTY_FILTER);
  assert.deepEqual(filterFromSearch("?where=e%3Alt%3A1%3AeV&where=s%3Aexists").where, ["e:lt:1:eV", "s:exists"]);
});

test("a scan's API path encodes its pid, so a pid cannot send the request elsewhere", () => {
  assert.equal(scanPath("20.500.12345/abc", "/rating"), "/api/scans/20.500.12345%2Fabc/rating");
  assert.equal(scanPath("x/../../publications/D/register#"), "/api/scans/x%2F..%2F..%2Fpublications%2FD%2Fregister%23");
  assert.equal(scanPath("a?b=1"), "/api/scans/a%3Fb%3D1");
});
