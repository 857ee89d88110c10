"""Run several child processes as one service: signals go to all, and when one dies the others are stopped."""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence

logger = logging.getLogger(__name__)


def run_together(commands: Sequence[Sequence[str]], *, env: Mapping[str, str], grace_s: float = 20.0) -> int:
    children = [subprocess.Popen(list(cmd), env=dict(env)) for cmd in commands]
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping and all(c.poll() is None for c in children):
            time.sleep(0.5)
        for child in children:
            if child.poll() is None:
                child.terminate()
            elif not stopping:
                logger.error("%s exited with %s; stopping the others", " ".join(child.args[-2:]), child.returncode)
        deadline = time.monotonic() + grace_s
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if stopping else max((c.returncode or 0) for c in children) or 1
