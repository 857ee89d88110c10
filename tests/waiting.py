"""wait_for: poll a condition in a test until it holds, or fail saying what did not happen in time; stop_process."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float, what: str = "the condition", *, every: float = 0.25,
             check: Callable[[], object] | None = None) -> T:
    """Call `predicate()` every `every` seconds until it returns something true, and return that. After `timeout`
    seconds (and one last try) fail with "timed out after N s waiting for <what>". `check()`, if given, runs before
    every try: it fails at once on what makes waiting pointless (a process the test needs has died)."""
    deadline = time.monotonic() + timeout
    while True:
        if check is not None:
            check()
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM (the process runs its shutdown), then SIGKILL if it has not exited within `timeout` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
