"""scifly: turn files written by acquisition programs into scan messages.

One loop owns all state (no locks): watchdog threads only put events in a queue. Each
tick the loop

1. polls the PathFixer and, when proposal or path change, checks the new path against the
   facility's rule (``_paths``: inside a data root, where the layout puts that proposal,
   links and ``..`` resolved), then starts watching it (and scans it for files written
   before the watch began) while the old path stays watched until its files are done plus
   a grace period. A refused path is never watched: scifly logs an error naming the path
   and the rule, counts it in ``scizoo_scifly_paths_refused_total``, sets
   ``scizoo_scifly_path_refused`` and ``/readyz`` says why. A watch in progress is retired
   as on any switch (its files still belong to its proposal and are finished within the
   grace period), and nothing new is captured until the PathFixer names an accepted path:
   the control system no longer says the old proposal is active, and the new path is not
   trusted, so the only safe thing to credit is what was already being written;
2. turns events into candidates (a file that matches a program's rule);
3. declares a candidate complete after close-write, or when its size and mtime have not
   changed for ``quiet_s``;
4. captures all complete files of the tick together: one Tango read, one message per
   file (``message_id`` from the file's path, so one file is always one dataset), one
   wait for Kafka's acknowledgements, then one fsync'd line per file in the state file.

At start the state file says what was already sent; the active path is scanned and only
new or changed files are captured. The paths are also rescanned every ``rescan_s``, which
recovers from an overflowing inotify queue and catches what no event reported.

Writes come to scifly by inotify (``observer: inotify``, the default), which sees only
writes made on this machine, or by watchdog's polling observer (``observer: polling``),
which lists and stats the data path every ``polling_s`` and so sees what a detector host
wrote over NFS, GPFS or Lustre too. Polling reports no close-write: there a file is
complete once it stayed unchanged for ``quiet_s``.

What the file system may hold, and what becomes of it:

* Only regular files inside the data path are captured, and nothing is read through a
  link: no symbolic link below the data path is followed (to a file or a folder, inside
  or outside), and a captured file is opened folder by folder from the data path with
  ``O_NOFOLLOW``, so a folder swapped for a link after its events were seen is not
  followed either. Named pipes, sockets and devices are never opened.
* A name that is not UTF-8 is captured. Inside scifly it is the ``os.fsdecode`` string
  (lone surrogates, lossless). In the message, where JSON needs valid Unicode, each
  undecodable byte is written ``\\xNN`` (Python's ``backslashreplace``); the message id
  is made from the name's bytes, so two names that read alike are still two datasets.
* A file that disappears before it is read (a temporary file, a file deleted while its
  metadata is read) is dropped with a log line; the rest of its batch is captured.
"""

from __future__ import annotations

import logging
import os
import queue
import stat
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserverVFS

from scifish import Capturer, PathFixerAnswer, ScanRequest, Where, pathfixer_answer, pathfixer_attributes
from scizoo.core import BeamlineConfig, DependencyUnavailable, file_message_id

from ._config import SciflyConfig
from ._files import Candidate, Dropped, Watch, examine, id_source, not_regular, scan_block, walk
from ._paths import DataPathRules, PathRefused, open_folders
from ._readers import shown_path
from ._state import SentState

logger = logging.getLogger(__name__)

#: How long the PathFixer's data path must stay refused before it is reported (see ``_refuse``).
REPORT_AFTER_S = 1.0

PATHS_REFUSED = Counter("scizoo_scifly_paths_refused",
                        "Data paths named by the PathFixer that scifly refused to watch (outside its rule).")
PATH_REFUSED = Gauge("scizoo_scifly_path_refused",
                     "1 while the PathFixer's current data path is refused (nothing new is captured).")


class _Handler(FileSystemEventHandler):
    def __init__(self, events: queue.SimpleQueue[tuple[str, str]]) -> None:
        self.events = events

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        kind = event.event_type
        if kind == "moved":
            self.events.put(("created", os.fsdecode(event.dest_path)))
        elif kind in ("created", "modified", "closed"):
            self.events.put((kind, os.fsdecode(event.src_path)))


class FileWatcher:
    """Follows the PathFixer and captures completed files. Call :meth:`run` with a stop event."""

    def __init__(
        self,
        config: SciflyConfig,
        capturer: Capturer,
        *,
        state_file: Path,
        paths: DataPathRules,
        clock: Callable[[], float] = time.monotonic,
        beamline_config: Callable[[], BeamlineConfig] | None = None,
    ) -> None:
        self.config = config
        self.capturer = capturer
        self.beamline = capturer.config
        #: Where the beamline's current configuration comes from (scidog's active one); None: fixed.
        self._beamline_config = beamline_config
        self.state = SentState(state_file)
        #: Which data paths may be watched (the facility's rule; the PathFixer is not trusted alone).
        self.paths = paths
        self._clock = clock
        self._events: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._observer: BaseObserver
        if config.observer == "polling":
            # lstat: the snapshots never walk into a link (a folder link would lead outside the path).
            self._observer = PollingObserverVFS(os.lstat, os.scandir, polling_interval=config.polling_s)
        else:
            self._observer = Observer()
        #: Only inotify reports close-writes; with polling, "modified" cannot mean "wait for its close".
        self._closes_reported = config.observer == "inotify"
        self._watches: dict[Watch, Any] = {}  # watch -> watchdog handle
        self._retiring: dict[Watch, float] = {}  # old watch -> when to stop it
        self.active: Watch | None = None
        self.candidates: dict[str, Candidate] = {}
        self.captured = 0
        #: The PathFixer's refused answer, once reported (None while its path is accepted).
        self.refused: PathRefused | None = None
        self._refused_since: float | None = None
        self._next_poll = 0.0
        self._next_rescan = 0.0
        self.ready = threading.Event()  # set once the first path is watched

    # --- the PathFixer ------------------------------------------------------

    def _ask_pathfixer(self) -> PathFixerAnswer:
        device = self.beamline.pathfixer
        return pathfixer_answer(device, self.capturer.reader.read(pathfixer_attributes(device)))

    def _read_pathfixer(self) -> Watch | PathRefused | None:
        """The watch the PathFixer's answer gives, its refusal, or None when it cannot be read."""
        answer = self._ask_pathfixer()
        if answer.where is None:
            logger.warning("PathFixer %s unreadable: %s", self.beamline.pathfixer,
                           answer.proposal_error or answer.data_path_error)
            return None
        try:
            watch = self.paths.place(proposal=answer.where.proposal_id, path=answer.where.data_path,
                                     beamline=self.beamline.beamline)
            if watch != self.active:
                open_folders(watch)
        except PathRefused as refused:
            return refused
        return watch

    def path_problem(self) -> str | None:
        """None unless the PathFixer's data path is refused (for /readyz); else why."""
        refused = self.refused
        return None if refused is None else f"the PathFixer's {refused}"

    def pathfixer_problem(self) -> str | None:
        """None when the PathFixer answers (for /readyz); else why not."""
        answer = self._ask_pathfixer()
        return None if answer.where else f"PathFixer {self.beamline.pathfixer}: {answer.proposal_error}"

    def check_pathfixer(self) -> None:
        """Raise :class:`DependencyUnavailable` unless the PathFixer answers (checked at start)."""
        device = self.beamline.pathfixer
        answer = self._ask_pathfixer() if device else None
        if answer is None or answer.where is None:
            raise DependencyUnavailable(
                service="scifly", dependency="the PathFixer (Tango)", address=device or "(none configured)",
                reason=(answer.proposal_error or answer.data_path_error or "no answer") if answer else "none configured",
                hint="Check the beamline configuration's pathfixer, TANGO_HOST and that the device runs.",
            )

    def _follow(self, now: float) -> None:
        if now < self._next_poll:
            return
        self._next_poll = now + self.config.poll_s
        watch = self._read_pathfixer()
        if isinstance(watch, PathRefused):
            self._refuse(watch, now)
            return
        if watch is None:
            return
        if self._refused_since is not None:
            if self.refused is not None:
                logger.warning("PathFixer %s names an accepted data path again: %s (proposal %s)",
                               self.beamline.pathfixer, watch.path, watch.proposal)
            self.refused, self._refused_since = None, None
            PATH_REFUSED.set(0)
        if watch == self.active:
            return
        logger.info("following %s (proposal %s)", watch.path, watch.proposal)
        old, self.active = self.active, watch
        self._start_watch(watch)
        if old is not None:
            self._retiring[old] = now + self.config.quiet_s + self.config.grace_s
        self._retiring.pop(watch, None)  # back to a path still retiring (after a switch or a refusal)
        self._scan(watch, now)
        self.ready.set()

    def _refuse(self, refused: PathRefused, now: float) -> None:
        if self.active is not None:
            logger.warning("stopped following %s (proposal %s): the PathFixer names a path that is not accepted; "
                           "files being written there are finished within the grace period",
                           self.active.path, self.active.proposal)
            self._retiring[self.active] = now + self.config.quiet_s + self.config.grace_s
            self.active = None
        if self._refused_since is None:
            self._refused_since = now
        # The PathFixer's path and proposal are two attributes, written one after the other: a
        # legitimate switch can be read half done (the new path, the old proposal) for one poll.
        # Such an answer is refused at once like any other, but reported only once refusals have
        # lasted REPORT_AFTER_S (and at least one more poll), so a switch raises no false alarm.
        if now - self._refused_since < max(REPORT_AFTER_S, self.config.poll_s):
            return
        if self.refused is None or (self.refused.proposal, self.refused.path) != (refused.proposal, refused.path):
            logger.error("PathFixer %s: %s; nothing is captured from it", self.beamline.pathfixer, refused)
            PATHS_REFUSED.inc()
        self.refused = refused
        PATH_REFUSED.set(1)

    def _start_watch(self, watch: Watch) -> None:
        if watch in self._watches:
            return
        self._watches[watch] = self._observer.schedule(_Handler(self._events), watch.path, recursive=True)

    def _retire(self, now: float) -> None:
        for watch, until in list(self._retiring.items()):
            pending = any(c.watch == watch for c in self.candidates.values())
            if now < until or pending:
                continue
            self._scan(watch, now)  # last look: anything written since its last event
            if any(c.watch == watch for c in self.candidates.values()):
                continue
            del self._retiring[watch]
            handle = self._watches.pop(watch, None)
            if handle is not None:
                self._observer.unschedule(handle)
            logger.info("stopped watching %s", watch.path)

    # --- files --------------------------------------------------------------

    def _watch_of(self, path: str) -> Watch | None:
        best: Watch | None = None
        for watch in (self.active, *self._retiring):
            if watch is not None and (path.startswith(watch.path.rstrip("/") + "/")):
                if best is None or len(watch.path) > len(best.path):
                    best = watch
        return best

    def _consider(self, path: str, kind: str, now: float) -> None:
        candidate = self.candidates.get(path)
        if candidate is not None:
            candidate.changed_at = now
            if kind == "closed" and candidate.rule.on_close:
                candidate.closed = True
            elif kind == "modified" and self._closes_reported:
                candidate.writing = True
            return
        rule = self.config.rule_for(os.path.basename(path))
        watch = self._watch_of(path)
        if rule is None or watch is None:
            return
        if path in self.state.sent:
            if "modified" not in rule.events:
                return
            try:
                st = os.lstat(path)
            except OSError:
                return
            if self.state.sent[path] == (st.st_size, st.st_mtime_ns):
                return
        # Only a write seen as it happens proves a writer: watchdog also reports "created"
        # for the files of a folder that appeared whole (moved in, or written before its
        # watch was added), and their close-writes have already happened.
        self.candidates[path] = Candidate(
            path, watch, rule, changed_at=now, closed=kind == "closed" and rule.on_close,
            writing=kind == "modified" and self._closes_reported,
        )

    def _scan(self, watch: Watch, now: float) -> None:
        for path in walk(watch.path):
            if path not in self.candidates:
                self._consider(path, "scan", now)

    def _complete(self, now: float) -> list[Candidate]:
        done = []
        for path, c in list(self.candidates.items()):
            try:
                # lstat: the size and time of a link's target are not this file's.
                st = os.lstat(path)
            except OSError:
                del self.candidates[path]
                logger.info("dropped %s: gone before it was complete", shown_path(path))
                continue
            if not stat.S_ISREG(st.st_mode):
                del self.candidates[path]
                logger.warning("ignored %s: %s", shown_path(path), not_regular(st))
                continue
            if (st.st_size, st.st_mtime_ns) != (c.size, c.mtime_ns):
                c.size, c.mtime_ns = st.st_size, st.st_mtime_ns
                if not c.closed:
                    c.changed_at = now
            quiet = now - c.changed_at
            # An empty file is not a finished acquisition: it waits for its close-write.
            wait_for_close = c.rule.on_close and (c.writing or st.st_size == 0)
            if c.closed or quiet >= (self.config.close_timeout_s if wait_for_close else self.config.quiet_s):
                done.append(c)
                del self.candidates[path]
        return done

    def _capture(self, done: list[Candidate]) -> None:
        requests: list[ScanRequest] = []
        captured: list[tuple[str, int, int]] = []
        for c in done:
            try:
                st, entries = examine(c)
            except Dropped as why:
                logger.warning("dropped %s: %s", shown_path(c.path), why)
                continue
            requests.append(ScanRequest(
                scan_block(c, st),
                file_message_id(self.beamline.beamline, id_source(c.path)),
                where=Where(c.watch.proposal, c.watch.path),
                entries=entries,
            ))
            captured.append((c.path, st.st_size, st.st_mtime_ns))
        if not requests:
            return
        for sent in self.capturer.capture(requests, source="scifly", now=datetime.now(UTC)):
            if sent.outcome == "refused":
                # Recorded as done below: it can never be sent, and it is kept in the spool's
                # dead-letter file; resending it at every rescan would only repeat this.
                logger.error("Kafka refused the message of %s for good (see the spool's dead-letter file)",
                             sent.message.scan.files[0].path if sent.message.scan.files else sent.message.message_id)
        self.state.record(captured)
        self.captured += len(captured)

    def tick(self) -> None:
        now = self._clock()
        if self._beamline_config is not None:  # from memory: the source follows the store itself
            self.beamline = self.capturer.config = self._beamline_config()
        self._follow(now)
        while True:
            try:
                kind, path = self._events.get_nowait()
            except queue.Empty:
                break
            self._consider(path, kind, now)
        watched = [w for w in (self.active, *self._retiring) if w is not None]
        if watched and now >= self._next_rescan:
            self._next_rescan = now + self.config.rescan_s
            for watch in watched:
                self._scan(watch, now)
        self._capture(self._complete(now))
        self._retire(now)

    def run(self, stop: threading.Event, tick_s: float = 0.05) -> None:
        self._observer.start()
        try:
            while not stop.is_set():
                try:
                    self.tick()
                except Exception:
                    logger.exception("scifly tick failed; going on")
                    stop.wait(1.0)
                stop.wait(tick_s)
        finally:
            self._observer.stop()
            self._observer.join(10)

    def close(self) -> None:
        self.capturer.close()


