"""What every long-running command shares: logging, stopping on a signal, failing clearly.

No client is imported here; the deployables' commands call these around one library call.
"""

from __future__ import annotations

import faulthandler
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pydantic import ValidationError

from ._errors import ScizooError

logger = logging.getLogger(__name__)

#: Exit code of a command that could not reach a dependency or was misconfigured.
EXIT_UNAVAILABLE = 2


def configure_logging(verbose: bool, *, debug: bool = False) -> None:
    """Configure logging once, for a command (libraries never do)."""
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not debug:
        # kafka-python reports every refused connection at WARNING/ERROR, pymongo dumps its
        # topology: our own code says what matters, in one sentence.
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
        logging.getLogger("pymongo").setLevel(logging.ERROR)


@contextmanager
def clear_failure(debug: bool = False) -> Iterator[None]:
    """Turn a :class:`ScizooError` (or invalid settings) into one line on stderr and exit code 2.

    With ``debug`` the traceback is shown as well.
    """
    try:
        yield
    except (ScizooError, ValidationError) as err:
        if debug:
            logger.exception("failed")
        text = f"invalid settings: {_first_problems(err)}" if isinstance(err, ValidationError) else str(err)
        print(f"error: {text}", file=sys.stderr)
        raise SystemExit(EXIT_UNAVAILABLE) from None


def _first_problems(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()[:3])


def until_stopped(service: Callable[[threading.Event], None]) -> None:
    """Run a long-lived service until SIGTERM or Ctrl-C; either lets it finish its batch and close."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        service(stop)
    except KeyboardInterrupt:
        stop.set()


def stacks_on_sigusr1() -> None:
    """`kill -USR1 <pid>` writes every thread's stack to stderr (the service's log) and the process
    goes on: where a process that makes no progress waits, without stopping it to find out."""
    faulthandler.register(signal.SIGUSR1, all_threads=True)


def run_service(service: Callable[[threading.Event], None], *, verbose: bool, debug: bool) -> None:
    """What a long-running command does: configure logging, run until stopped, fail in one sentence.

    ``service`` builds its settings itself, so that invalid settings fail clearly too.
    """
    configure_logging(verbose, debug=debug)
    stacks_on_sigusr1()
    with clear_failure(debug):
        until_stopped(service)
