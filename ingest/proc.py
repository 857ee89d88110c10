"""Child-process helpers: ffmpeg children must not outlive the worker that started them."""

from __future__ import annotations

import ctypes
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: ask Linux to send SIGTERM to the child when its parent thread dies (even by SIGKILL), so a
    killed worker leaves no orphan ffmpeg writing into the spool."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
