// The live stream: server-sent events read through fetch (so the token goes in a header, never
// a URL), reconnecting for as long as the page is open.
import {api, status} from "./session.js";
import {takeEvents} from "./events.js";

// params(): the stream's query now; opened(): after every (re)connect (the caller reloads, so
// nothing written meanwhile is missed); scan(row): each scan event. Returns reopen(), to call
// when params() changes: the stream is reopened with them at once. A stream the API refuses
// (422: conditions it cannot use) is not asked again until reopened; the page loads all the
// same, so it shows the API's objection where it belongs. A sign-in that expired (the stream's
// "expired" event, or a 401) is not asked again either; other failures are retried, waiting
// longer after each (1 s up to 30 s), so a refusing server is not asked every second.
export function follow({params, opened, scan}) {
  let current = null, wake = null, delay = 1000;
  const until = async (message, reload) => {
    const woken = new Promise((ok) => { wake = ok; });
    if (reload) await opened();
    status(message);
    await woken;
  };
  (async () => {
    for (;;) {
      const ctl = new AbortController();
      current = ctl;
      let expired = false;
      try {
        const response = await api("/api/stream?" + params(), {signal: ctl.signal});
        await opened();
        delay = 1000;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const {value, done} = await reader.read();
          if (done) break;
          const {events, rest} = takeEvents(buffer + value);
          buffer = rest;
          for (const e of events) {
            if (e.event === "scan") scan(JSON.parse(e.data));
            if (e.event === "expired") expired = true;
          }
        }
      } catch (err) {
        if (ctl.signal.aborted) continue;  // reopened: at once
        if (err.status === 422) { await until("live feed off: " + err.message, true); continue; }
        if (err.status === 401) expired = true;
        else status("live feed lost (" + err.message + "); reconnecting…");
      }
      if (expired) { await until("live feed off: your sign-in has expired; open the page again with a new token"); continue; }
      await new Promise((ok) => setTimeout(ok, delay));
      delay = Math.min(delay * 2, 30000);
    }
  })();
  return () => { current?.abort(); wake?.(); wake = null; };
}
