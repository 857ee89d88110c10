"""run_every: a worker thread's loop keeps its pace through storage errors and unexpected ones, and stops when told."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from storage.errors import DatabaseUnavailable, ObjectStoreUnavailable
from storage.periodic import run_every

logger = logging.getLogger("tests.periodic")


def run_in_thread(interval_s: float, step: Callable[[], object], **options: Any) -> threading.Thread:
    """run_every as a worker runs it; joined here, so a loop that never stops fails the test instead of hanging it."""
    thread = threading.Thread(target=run_every, args=(interval_s, step), kwargs={"logger": logger, **options},
                              daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "run_every did not stop"
    return thread


def test_errors_are_logged_and_the_loop_goes_on_until_stopped(caplog: pytest.LogCaptureFixture) -> None:
    stop = threading.Event()
    calls: list[float] = []
    failures = [DatabaseUnavailable("the database did not answer within 5 s"), RuntimeError("bug")]

    def step() -> None:
        calls.append(time.monotonic())
        if failures:
            raise failures.pop(0)
        if len(calls) == 4:
            stop.set()

    with caplog.at_level(logging.WARNING, logger="tests.periodic"):
        started = time.monotonic()
        run_in_thread(0.05, step, stop=stop, not_done="figures not saved", failed="check failed")
    assert len(calls) == 4  # went on after both errors, and ended once stopped
    assert calls[0] - started >= 0.05  # the first call waits one interval
    assert all(b - a < 1.0 for a, b in zip(calls, calls[1:]))  # no backoff after an error
    records = [(r.levelno, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert records == [(logging.WARNING, "figures not saved: the database did not answer within 5 s", False),
                       (logging.ERROR, "check failed; retrying", True)]


def test_at_once_and_only_the_expected_error_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    stop = threading.Event()
    calls: list[float] = []

    def step() -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise DatabaseUnavailable("away")  # not what this loop expects: logged with its traceback
        if len(calls) == 2:
            raise ObjectStoreUnavailable("store away")
        stop.set()

    with caplog.at_level(logging.WARNING, logger="tests.periodic"):
        started = time.monotonic()
        run_in_thread(0.5, step, stop=stop, at_once=True, expected=ObjectStoreUnavailable, not_done="clips waiting",
                      failed="clips failed")
    assert len(calls) == 3
    assert calls[0] - started < 0.5  # at once, not after an interval
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.ERROR, "clips failed; retrying"), (logging.WARNING, "clips waiting: store away")]


def test_a_stop_already_set_runs_nothing() -> None:
    stop = threading.Event()
    stop.set()
    calls: list[int] = []
    run_in_thread(0.01, lambda: calls.append(1), stop=stop, at_once=True, not_done="x", failed="y")
    assert calls == []
