"""One worker per spool directory.

Two workers on one spool would upload, and then delete, each other's segments, and with the same node name would
renew each other's camera leases, so both would record the same cameras. It happens by accident: a worker started
again while the previous one, after SIGTERM, is still closing and uploading its last segments (it takes seconds), or a
second `matthan run`/demo on the same data directory. The worker holds an exclusive `flock` on `<spool>/.worker.lock`
for as long as it runs; the kernel drops it when the process ends, however it ends, so a crash leaves nothing stale.
A worker finding it held waits a little (a restart overlapping the previous worker's shutdown), then refuses to start.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import time
from pathlib import Path

logger = logging.getLogger(__name__)

LOCK_NAME = ".worker.lock"


class SpoolInUse(RuntimeError):
    """Another live process holds the spool directory; the message says which and what to do."""


class SpoolLock:
    def __init__(self, spool_dir: Path, *, node: str, wait_s: float = 20.0) -> None:
        spool_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(spool_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            self._take(fd, spool_dir, wait_s)
        except BlockingIOError:
            holder = self._holder(fd)
            os.close(fd)
            raise SpoolInUse(
                f"the spool directory {spool_dir} is in use by another worker ({holder}). Two workers on one spool "
                "would upload and delete each other's segments. Stop the other one first (after SIGTERM it takes a "
                "few seconds to close and upload its last segments: wait until it has exited), or give this worker "
                "its own ingest.spool_dir and node_name.") from None
        except BaseException:
            os.close(fd)
            raise
        started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, node {node}, since {started}\n".encode(), 0)
        self.path = spool_dir / LOCK_NAME
        self._fd: int | None = fd

    @staticmethod
    def _holder(fd: int) -> str:
        return os.pread(fd, 300, 0).decode(errors="replace").strip() or "a process that did not say who it is"

    def _take(self, fd: int, spool_dir: Path, wait_s: float) -> None:
        """BlockingIOError when another process still holds the lock after `wait_s`."""
        deadline, told = time.monotonic() + wait_s, False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise
                if not told:
                    logger.warning("spool %s is held by another worker (%s): waiting up to %.0f s for it to exit",
                                   spool_dir, self._holder(fd), wait_s)
                    told = True
                time.sleep(0.5)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Closing the descriptor drops the lock. The file stays: deleting it could let two processes lock two
        different files under the same name."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
