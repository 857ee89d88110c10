"""LeaseKeeper: the cameras this worker holds when several workers share a site (storage.repo.leases does the rows).

Its own thread renews the leases and heartbeats every third of a lease period, so starting or stopping cameras never
delays a renewal; `balance()` (called by the worker's camera refresh) takes free cameras up to the fair share and
names the ones to give back when there are more workers than before.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from storage.db import Database
from storage.errors import StorageError
from storage.periodic import run_every
from storage.repo.leases import (Fence, acquire, fair_share, heartbeat, held_by, live_nodes, other_nodes, release,
                                 renew)

logger = logging.getLogger(__name__)


class LeaseKeeper:
    def __init__(self, db: Database, *, node: str, period_s: float) -> None:
        self.db, self.node = db, node
        self.period = dt.timedelta(seconds=period_s)
        self._held: dict[int, int] = {}
        # counted among the live workers (and so handed cameras by the others) only once ready to record them:
        # a worker still starting would leave the cameras handed to it unrecorded meanwhile
        self._ready = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leases", daemon=True)

    # --- what the rest of the worker asks ---------------------------------------------------------------------

    def fence(self, camera_id: int) -> Fence:
        with self._lock:
            return Fence(camera_id=camera_id, node=self.node, token=self._held.get(camera_id))

    def others_known(self) -> bool:
        """Has any other worker ever registered in this database?"""
        with self.db.session() as session:
            return bool(other_nodes(session=session, node=self.node))

    def held(self) -> set[int]:
        with self._lock:
            return set(self._held)

    def balance(self) -> tuple[set[int], dict[int, int]]:
        """Take free cameras up to the fair share; returns (cameras to run, cameras to give back once stopped)."""
        with self.db.session() as session:
            if self._ready:
                heartbeat(session=session, node=self.node)
            nodes = live_nodes(session=session, period=self.period)
            share = fair_share(session=session, nodes=len(nodes))
            with self._lock:
                held = dict(self._held)
            extras: dict[int, int] = {}
            got: dict[int, int] = {}
            if len(held) < share:
                got = acquire(session=session, node=self.node, want=share - len(held), period=self.period)
                if got:
                    # a starting worker is not counted among the live ones yet: it is one of them all the same
                    logger.info("node %s took cameras %s (share %d of %d nodes)", self.node, sorted(got), share,
                                max(1, len(nodes)))
            elif len(held) > share:
                # more workers than before: give back the newest-numbered cameras beyond the share
                extras = {cid: held[cid] for cid in sorted(held)[share:]}
        with self._lock:
            # only what was taken now: a lease the renewal found lost meanwhile must not come back from `held`
            self._held.update(got)
            running = set(self._held)
        return running - set(extras), extras

    def give_back(self, leases: dict[int, int]) -> None:
        """Release cameras whose recording has stopped (their last segment is closed)."""
        if not leases:
            return
        with self.db.session() as session:
            for camera_id, token in leases.items():
                release(session=session, node=self.node, camera_id=camera_id, token=token)
        with self._lock:
            for camera_id in leases:
                self._held.pop(camera_id, None)
        logger.info("node %s gave back cameras %s", self.node, sorted(leases))

    # --- life cycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Pick up leases this node still holds from before a restart (same name), then keep them alive."""
        with self.db.session() as session:
            with self._lock:
                self._held = renew(session=session, node=self.node, held=held_by(session=session, node=self.node),
                                   period=self.period)  # fmt: skip
        self._thread.start()

    def stop(self) -> None:
        """After the cameras have stopped: give every lease back, so the others need not wait for expiry."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        try:
            self.give_back(dict(self._held))
        except StorageError as exc:
            logger.warning("leases not given back (they expire in %s): %s", self.period, exc)

    def ready(self) -> None:
        """The worker records now: count it among the live workers from here on."""
        self._ready = True
        with self.db.session() as session:
            heartbeat(session=session, node=self.node)

    def renew_now(self) -> None:
        with self._lock:
            held = dict(self._held)
        with self.db.session() as session:
            if self._ready:
                heartbeat(session=session, node=self.node)
            kept = renew(session=session, node=self.node, held=held, period=self.period)
        lost = set(held) - set(kept)
        with self._lock:
            for camera_id in lost:
                if self._held.get(camera_id) == held[camera_id]:
                    del self._held[camera_id]
        if lost:
            logger.error("node %s lost cameras %s to another worker (its lease expired): they stop here",
                         self.node, sorted(lost))

    def _run(self) -> None:
        # the database away: the leases run out in one period, then the others take the cameras
        run_every(self.period.total_seconds() / 3, self.renew_now, stop=self._stop, logger=logger,
                  not_done="leases not renewed", failed="lease renewal failed")
