// The live stream's text as events, and a scan from it merged into the rows the page shows.
// Pure (no DOM): node's tests import it.

// Complete server-sent events at the start of buffer ({event, data}; data is the text of its
// data: lines), and what is left over (the start of an event still arriving). Comments
// (": keep-alive") and retry: lines carry nothing for the page.
export function takeEvents(buffer) {
  const events = [];
  let rest = buffer.replace(/\r\n?/g, "\n"), end;
  while ((end = rest.indexOf("\n\n")) >= 0) {
    const block = rest.slice(0, end);
    rest = rest.slice(end + 2);
    let event = "message"; const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (data.length) events.push({event, data: data.join("\n")});
  }
  return {events, rest};
}

// A scan from the stream into the page's rows: a scan already shown is replaced where it is
// (keeping its reduction state and fixity, which the stream does not carry); a new one goes first, the
// total grows by one and the page keeps its size. at: where the row is, or -1 if it was new.
export function mergeLive(rows, total, r, pageSize) {
  const at = rows.findIndex((x) => x.pid === r.pid);
  if (at >= 0) {
    const kept = ["reduction", "fixity"].filter((k) => r[k] === undefined && rows[at][k] !== undefined);
    const row = kept.length ? {...r, ...Object.fromEntries(kept.map((k) => [k, rows[at][k]]))} : r;
    return {rows: rows.map((x, i) => (i === at ? row : x)), total, row, at};
  }
  return {rows: [r, ...rows].slice(0, pageSize), total: total + 1, row: r, at: -1};
}
