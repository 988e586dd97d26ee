"""The readiness checks every long-running service combines."""

from __future__ import annotations

import socket

from scizoo.ops import broker_problem, first_problem
from scizoo.testing import free_port


def test_a_broker_that_accepts_connections_is_ready_and_one_that_does_not_is_named() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        closed = free_port()
        assert broker_problem(f"127.0.0.1:{closed},127.0.0.1:{port}")() is None  # any one will do
    assert broker_problem(f"127.0.0.1:{closed}", timeout_s=0.5)() == f"Kafka at 127.0.0.1:{closed} does not answer"


def test_the_first_problem_is_reported_and_later_checks_are_not_asked() -> None:
    asked: list[str] = []

    def check(name: str, answer: str | None):
        def run() -> str | None:
            asked.append(name)
            return answer
        return run

    assert first_problem(check("a", None), check("b", "b is down"), check("c", "c is down"))() == "b is down"
    assert asked == ["a", "b"]
    assert first_problem(check("d", None))() is None
