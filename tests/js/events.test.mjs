// events.js: the live stream's text as events; a live scan into the page's rows.
import test from "node:test";
import assert from "node:assert/strict";
import {mergeLive, takeEvents} from "../../scanlog_api/static/events.js";

test("complete events are taken, the start of the next one is kept", () => {
  const text = 'retry: 1000\nevent: hello\ndata: {}\n\n: keep-alive\n\nevent: scan\ndata: {"pid":"p1"}\n\nevent: scan\ndata: {"pi';
  const {events, rest} = takeEvents(text);
  assert.deepEqual(events, [{event: "hello", data: "{}"}, {event: "scan", data: '{"pid":"p1"}'}]);
  assert.equal(rest, 'event: scan\ndata: {"pi');
  const more = takeEvents(rest + 'd":"p2"}\n\n');
  assert.deepEqual(more.events.map((e) => JSON.parse(e.data)), [{pid: "p2"}]);
  assert.equal(more.rest, "");
});

test("an event split anywhere arrives whole, once", () => {
  const text = 'event: scan\ndata: {"pid":"p1"}\n\nevent: scan\ndata: {"pid":"p2"}\n\n';
  for (let cut = 0; cut <= text.length; cut++) {
    const a = takeEvents(text.slice(0, cut));
    const b = takeEvents(a.rest + text.slice(cut));
    assert.deepEqual([...a.events, ...b.events].map((e) => JSON.parse(e.data).pid), ["p1", "p2"], `cut at ${cut}`);
  }
});

test("lines may end in CRLF; several data lines are one event's data", () => {
  const {events} = takeEvents("event: scan\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\ndata: plain\n\n");
  assert.deepEqual(events, [{event: "scan", data: '{"a":\n1}'}, {event: "message", data: "plain"}]);
});

test("an update replaces its row where it is and keeps the reduction state the stream does not carry", () => {
  const rows = [{pid: "a", status: "running", reduction: "queued"}, {pid: "b"}];
  const merged = mergeLive(rows, 2, {pid: "a", status: "finished"}, 50);
  assert.equal(merged.at, 0);
  assert.equal(merged.total, 2);
  assert.deepEqual(merged.rows, [{pid: "a", status: "finished", reduction: "queued"}, {pid: "b"}]);
  assert.equal(merged.rows[0], merged.row);
  assert.deepEqual(rows[0], {pid: "a", status: "running", reduction: "queued"});  // the old list as it was
  // a reduction state the stream does carry (even none) wins
  assert.equal(mergeLive(rows, 2, {pid: "a", reduction: null}, 50).row.reduction, null);
  // and the fixity mark likewise (the stream carries neither)
  const checked = [{pid: "a", fixity: {state: "flagged", problemCount: 2}}];
  assert.deepEqual(mergeLive(checked, 1, {pid: "a", status: "finished"}, 50).row,
                   {pid: "a", status: "finished", fixity: {state: "flagged", problemCount: 2}});
});

test("a new scan goes first, the total grows and the page keeps its size", () => {
  const rows = [{pid: "b"}, {pid: "c"}];
  const merged = mergeLive(rows, 7, {pid: "a"}, 2);
  assert.equal(merged.at, -1);
  assert.equal(merged.total, 8);
  assert.deepEqual(merged.rows.map((r) => r.pid), ["a", "b"]);
});
