// The live stream: server-sent events read through fetch (so the token goes in a header, never
// a URL), reconnecting for as long as the page is open.
import {api, status} from "./session.js";
import {takeEvents} from "./events.js";

// params(): the stream's query now; opened(): after every (re)connect (the caller reloads, so
// nothing written meanwhile is missed); scan(row): each scan event. Returns reopen(), to call
// when params() changes: the stream is reopened with them at once. A stream the API refuses
// (422: conditions it cannot use) is not asked again until reopened; the page loads all the
// same, so it shows the API's objection where it belongs.
export function follow({params, opened, scan}) {
  let current = null, wake = null;
  (async () => {
    for (;;) {
      const ctl = new AbortController();
      current = ctl;
      try {
        const response = await api("/api/stream?" + params(), {signal: ctl.signal});
        await opened();
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const {value, done} = await reader.read();
          if (done) break;
          const {events, rest} = takeEvents(buffer + value);
          buffer = rest;
          for (const e of events) if (e.event === "scan") scan(JSON.parse(e.data));
        }
      } catch (err) {
        if (ctl.signal.aborted) continue;  // reopened: at once
        if (err.status === 422) {
          const woken = new Promise((ok) => { wake = ok; });
          await opened();
          status("live feed off: " + err.message);
          await woken;
          continue;
        }
        status("live feed lost (" + err.message + "); reconnecting…");
      }
      await new Promise((ok) => setTimeout(ok, 1000));
    }
  })();
  return () => { current?.abort(); wake?.(); wake = null; };
}
