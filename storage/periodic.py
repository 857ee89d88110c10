"""run_every: the loop of a worker thread that does one step every few seconds until it is told to stop.

It sits in storage because what such a step expects to fail is storage (the database or the object store away), and
every package that runs these threads (ingest, detect, the composition root) may import storage.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from storage.errors import StorageError


def run_every(interval_s: float, step: Callable[[], object], *, stop: threading.Event, logger: logging.Logger,
              not_done: str, failed: str, expected: type[Exception] = StorageError, at_once: bool = False) -> None:
    """Call `step()` every `interval_s` seconds until `stop` is set; the first call after one interval, or `at_once`.

    An `expected` error is logged as the warning "<not_done>: <error>", anything else with its traceback as
    "<failed>; retrying". Either way the thread lives on at the same pace, with no backoff: a step such as a lease
    renewal must not fall behind its period.
    """

    def attempt() -> None:
        try:
            step()
        except expected as exc:
            logger.warning("%s: %s", not_done, exc)
        except Exception:  # a worker thread must not die silently
            logger.exception("%s; retrying", failed)

    if at_once and not stop.is_set():
        attempt()
    while not stop.wait(interval_s):
        attempt()
