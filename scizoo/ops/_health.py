"""Health and metrics for every long-running service: ``/healthz`` (alive), ``/readyz`` (its
dependencies answer), ``/metrics`` (Prometheus, with prometheus-client).

The web apps mount these as routes; the consumers (scicow, scireduce) serve them from a
small HTTP server thread of their own, on a port from their settings.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

logger = logging.getLogger(__name__)

MESSAGES_CONSUMED = Counter("scizoo_messages_consumed", "Kafka records scicow handled.")
MESSAGES_INGESTED = Counter("scizoo_messages_ingested", "Datasets written to the catalogue.")
DEAD_LETTERS = Counter("scizoo_dead_letters", "Records set aside on the dead-letter topic.")
QUARANTINED = Counter("scizoo_quarantined", "Scans kept in quarantine (proposal unknown).")
CONSUMER_LAG = Gauge("scizoo_consumer_lag", "Records behind the end of each partition.", ["topic", "partition"])
BATCH_WRITE = Histogram("scizoo_batch_write_seconds", "Time to make one batch durable.")
HTTP_REQUEST = Histogram("scizoo_http_request_seconds", "HTTP request time.", ["service", "method", "status"])
LIVE_STREAMS = Gauge("scizoo_live_streams", "Open live-stream clients of the scan table.")
REDUCTION_JOBS = Counter("scizoo_reduction_jobs", "Reduction jobs by how they ended.", ["state"])
CAPTURE_ERRORS = Counter("scizoo_capture_errors", "Attributes a capture could not read, by device.", ["device"])
SPOOL_DEPTH = Gauge("scizoo_spool_depth", "Messages waiting in a capture process's spool for Kafka.")


def broker_problem(bootstrap: str, timeout_s: float = 2.0) -> Callable[[], str | None]:
    """A readiness check: None while some bootstrap server accepts a connection (kafka-python's
    own connected flag says nothing once its bootstrap connection is closed)."""

    def problem() -> str | None:
        for server in bootstrap.split(","):
            host, _, port = server.strip().rpartition(":")
            try:
                with socket.create_connection((host or "localhost", int(port or 9092)), timeout=timeout_s):
                    return None
            except (OSError, ValueError):
                continue
        return f"Kafka at {bootstrap} does not answer"

    return problem


def first_problem(*checks: Callable[[], str | None]) -> Callable[[], str | None]:
    """A readiness check made of several: the first problem found, or None."""

    def problem() -> str | None:
        return next((why for check in checks if (why := check()) is not None), None)

    return problem


class Readiness:
    """Whether the service's dependencies answer, asked at most every ``every_s`` (probes are cheap)."""

    def __init__(self, check: Callable[[], str | None], every_s: float = 5.0) -> None:
        self._check, self._every = check, every_s
        self._lock = threading.Lock()
        self._at = 0.0
        self._problem: str | None = "not checked yet"

    def problem(self) -> str | None:
        """None when ready; else what is not answering."""
        with self._lock:
            if time.monotonic() - self._at >= self._every:
                try:
                    self._problem = self._check()
                except Exception as err:  # noqa: BLE001 - a readiness check reports, never raises
                    self._problem = f"{type(err).__name__}: {err}"
                self._at = time.monotonic()
            return self._problem


class HealthServer:
    """``/healthz``, ``/readyz`` and ``/metrics`` on ``port`` (0: a free one), in a daemon thread."""

    def __init__(self, port: int, readiness: Readiness, *, host: str = "0.0.0.0") -> None:  # noqa: S104 - probes come from the cluster
        ready = readiness

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                return

            def _send(self, status: int, body: bytes, kind: str = "text/plain; charset=utf-8") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/healthz":
                    self._send(200, b"alive\n")
                elif self.path == "/readyz":
                    problem = ready.problem()
                    self._send(503 if problem else 200, (f"not ready: {problem}\n" if problem else "ready\n").encode())
                elif self.path == "/metrics":
                    self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
                else:
                    self._send(404, b"not here\n")

        self._server = ThreadingHTTPServer((host, port), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="health", daemon=True)

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
