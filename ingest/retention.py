"""RetentionWorker: deletes recorded segments past their camera's retention, then the oldest ones over the storage
quota — never a segment under legal hold."""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from config.settings import IngestConfig
from storage.db import Database
from storage.errors import NotFound, ObjectStoreError, ObjectStoreUnavailable
from storage.models import Segment
from storage.objectstore import ObjectStore
from storage.repo.holds import queue_held_objects, sync_object_holds
from storage.repo.segments import (
    delete_segments, expired_segments, lock_unheld_segments, oldest_segments, retention_days_by_camera,
    segment_bytes,
)

logger = logging.getLogger(__name__)

BATCH_SIZE = 500  # rows per query and per delete transaction: memory stays flat on a 2-million-row table
MIN_CAMERA_PAGE = 10  # the quota walk reads this many rows per camera at least, however many cameras there are
GB = 1e9  # same unit as spool_quota_gb
EXPIRED = "expired"
QUOTA = "quota"


@dataclass(frozen=True)
class Deleted:
    segments: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class RetentionReport:
    """What one retention run did. `kept_on_hold` counts held segments a rule would otherwise have deleted."""

    deleted_segments: int = 0
    deleted_bytes: int = 0
    kept_on_hold: int = 0
    by_reason: Mapping[str, Deleted] = field(default_factory=dict)  # EXPIRED / QUOTA
    failed_objects: int = 0  # objects the store refused to delete; their rows stay for the next run
    total_bytes: int | None = None  # all segments after the run, when a quota is set
    held_bytes: int | None = None
    held_over_quota: bool = False
    stopped: str | None = None  # why the run ended early (store unavailable, worker stopping)

    def summary(self) -> str:
        parts = [f"{reason}: {d.segments} ({d.bytes / GB:.2f} GB)" for reason, d in self.by_reason.items()
                 if d.segments]
        line = (f"retention deleted {self.deleted_segments} segments, {self.deleted_bytes / GB:.2f} GB "
                f"[{', '.join(parts) or 'none'}]; kept on legal hold: {self.kept_on_hold}")
        if self.total_bytes is not None:
            line += f"; segments now take {self.total_bytes / GB:.2f} GB"
        if self.stopped:
            line += f"; stopped early: {self.stopped}"
        return line


@dataclass(frozen=True)
class _Candidate:
    """A segment row reduced to what deletion needs (no ORM object outlives its page)."""

    id: int
    camera_id: int
    start_at: dt.datetime
    end_at: dt.datetime
    object_key: str
    bytes: int
    legal_hold: bool

    @classmethod
    def from_row(cls, row: Segment) -> _Candidate:
        return cls(id=row.id, camera_id=row.camera_id, start_at=row.start_at, end_at=row.end_at,
                   object_key=row.object_key, bytes=row.bytes, legal_hold=row.legal_hold)


class _Stop(Exception):
    """Ends a run early; rows not yet handled stay as they are."""


@dataclass
class _Tally:
    segments: dict[str, int] = field(default_factory=lambda: {EXPIRED: 0, QUOTA: 0})
    bytes: dict[str, int] = field(default_factory=lambda: {EXPIRED: 0, QUOTA: 0})
    kept_on_hold: int = 0
    failed_objects: int = 0
    measured_bytes: int = 0  # all segments when the quota rule began (only it deletes after that)
    held_bytes: int | None = None
    held_over_quota: bool = False

    @property
    def total_bytes(self) -> int:
        return self.measured_bytes - self.bytes[QUOTA]


class RetentionWorker:
    """Runs `run_once` every `retention_interval_s` in a daemon thread; safe to run on several nodes at once (rows
    are locked while their objects are deleted)."""

    def __init__(
        self, *, db: Database, store: ObjectStore, config: IngestConfig, batch_size: int = BATCH_SIZE
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.db = db
        self.store = store
        self.config = config
        self.batch_size = batch_size
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the thread ---

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("retention thread still busy after %.0f s; it ends after its current batch", timeout)

    def _loop(self) -> None:
        requeued = False
        while not self._stop.is_set():
            try:
                if not requeued:  # once per start: the store's holds are checked against every database hold
                    with self.db.session() as session:
                        queue_held_objects(session=session)
                    requeued = True
                self._run(now=None, interrupt=self._stop)
            except Exception:  # a worker thread must not die silently; log and try again next interval
                logger.exception("retention run failed; retrying in %.0f s", self.config.retention_interval_s)
            self._stop.wait(self.config.retention_interval_s)

    # --- one run ---

    def run_once(self, *, now: dt.datetime | None = None) -> RetentionReport:
        """Apply both rules once. Store outages end the run with a warning and leave the remaining rows intact."""
        return self._run(now=now, interrupt=None)

    def _run(self, *, now: dt.datetime | None, interrupt: threading.Event | None) -> RetentionReport:
        if now is None:
            now = dt.datetime.now(dt.UTC)
        elif now.tzinfo is None:
            raise ValueError("run_once needs a timezone-aware `now` (UTC)")
        tally = _Tally()
        stopped: str | None = None
        # First the object-store legal holds the web could not set or lift (store down when evidence was tagged or
        # removed): a lifted hold lets its segment go below, and a held one is never deleted either way.
        sync_object_holds(db=self.db, store=self.store)
        with self.db.session() as session:
            days = retention_days_by_camera(session=session)
        cutoffs = {cid: now - dt.timedelta(days=d) for cid, d in days.items()}
        try:
            self._expire(cutoffs, tally, interrupt)
            if self.config.storage_quota_gb is not None:
                self._enforce_quota(cutoffs, tally, interrupt)
        except _Stop as exc:
            stopped = str(exc)
        report = RetentionReport(
            deleted_segments=sum(tally.segments.values()),
            deleted_bytes=sum(tally.bytes.values()),
            kept_on_hold=tally.kept_on_hold,
            by_reason={r: Deleted(segments=tally.segments[r], bytes=tally.bytes[r]) for r in (EXPIRED, QUOTA)},
            failed_objects=tally.failed_objects,
            total_bytes=tally.total_bytes if tally.held_bytes is not None else None,
            held_bytes=tally.held_bytes,
            held_over_quota=tally.held_over_quota,
            stopped=stopped,
        )
        if report.deleted_segments:
            logger.info("%s", report.summary())
        return report

    def _expire(self, cutoffs: dict[int, dt.datetime], tally: _Tally, interrupt: threading.Event | None) -> None:
        """Rule 1: per camera, segments that ended before now - retention_days. One read transaction scans as many
        cameras as it takes to fill a batch, so thousands of cameras with little to expire cost few transactions.
        (A read never stays open across a delete: SQLite transactions here take the write lock.)"""
        todo: deque[tuple[int, dt.datetime | None]] = deque((cid, None) for cid in cutoffs)
        while todo:
            self._check(interrupt)
            pending: list[_Candidate] = []
            with self.db.session() as session:
                while todo and len(pending) < self.batch_size:
                    camera_id, after = todo.popleft()
                    page = [_Candidate.from_row(r) for r in expired_segments(
                        session=session, camera_id=camera_id, before=cutoffs[camera_id], after=after,
                        limit=self.batch_size)]
                    for cand in page:
                        if cand.legal_hold:
                            tally.kept_on_hold += 1
                        else:
                            pending.append(cand)
                    if len(page) == self.batch_size:  # more may follow: this camera goes first next round
                        todo.appendleft((camera_id, page[-1].start_at))
            self._delete(pending, EXPIRED, tally)

    def _enforce_quota(
        self, cutoffs: dict[int, dt.datetime], tally: _Tally, interrupt: threading.Event | None
    ) -> None:
        """Rule 2: while all segments take more than the quota, delete the oldest unheld ones across cameras."""
        assert self.config.storage_quota_gb is not None
        quota = int(self.config.storage_quota_gb * GB)
        with self.db.session() as session:
            tally.measured_bytes, tally.held_bytes = segment_bytes(session=session)
        tally.held_over_quota = tally.held_bytes > quota
        if tally.held_over_quota:
            # Pruning every other segment could not meet the quota anyway and would wipe the commune's recent
            # footage each run; keep it (per-camera retention still applies) and say what to do instead.
            logger.critical(
                "segments under legal hold alone take %.2f GB, more than ingest.storage_quota_gb (%.2f GB). They are "
                "evidence and are never deleted, so the quota cannot be met; no footage is pruned for the quota "
                "until it is raised. Raise ingest.storage_quota_gb or add storage to the object store.",
                tally.held_bytes / GB, quota / GB,
            )
            return
        if tally.total_bytes <= quota:
            return
        pending: list[_Candidate] = []
        pending_bytes = 0
        for cand in self._oldest_first(list(cutoffs), interrupt):
            if tally.total_bytes - pending_bytes <= quota:
                break
            if cand.legal_hold:
                if cand.end_at >= cutoffs[cand.camera_id]:  # past retention it was counted by rule 1
                    tally.kept_on_hold += 1
                continue
            pending.append(cand)
            pending_bytes += cand.bytes
            if len(pending) >= self.batch_size:
                self._delete(pending, QUOTA, tally)
                pending, pending_bytes = [], 0
        self._delete(pending, QUOTA, tally)

    def _oldest_first(self, camera_ids: list[int], interrupt: threading.Event | None) -> Iterator[_Candidate]:
        """All segments, oldest first across cameras: a merge of per-camera pages read in index order (there is no
        index on start_at alone, so one global ORDER BY would sort the whole table for every page)."""
        page_size = max(MIN_CAMERA_PAGE, self.batch_size // max(1, len(camera_ids)))
        cursors: dict[int, dt.datetime | None] = dict.fromkeys(camera_ids)
        buffers: dict[int, list[_Candidate]] = {}
        heap: list[tuple[dt.datetime, int, int]] = []  # (start_at, camera_id, index in that camera's buffer)

        def fill(session: Session, camera_id: int) -> None:
            page = [_Candidate.from_row(r) for r in oldest_segments(
                session=session, camera_id=camera_id, after=cursors[camera_id], limit=page_size)]
            buffers[camera_id] = page
            if page:
                cursors[camera_id] = page[-1].start_at
                heapq.heappush(heap, (page[0].start_at, camera_id, 0))

        self._check(interrupt)
        with self.db.session() as session:
            for camera_id in camera_ids:
                fill(session, camera_id)
        while heap:
            _, camera_id, index = heapq.heappop(heap)
            buffer = buffers[camera_id]
            yield buffer[index]
            if index + 1 < len(buffer):
                heapq.heappush(heap, (buffer[index + 1].start_at, camera_id, index + 1))
            elif len(buffer) == page_size:  # this camera may have more: read its next page
                self._check(interrupt)
                with self.db.session() as session:
                    fill(session, camera_id)

    def _delete(self, candidates: list[_Candidate], reason: str, tally: _Tally) -> None:
        """Delete a batch: lock the rows (re-checking the hold), delete each object, then the rows of the objects that
        are gone, in one transaction. Raises _Stop when the store is unreachable, after committing the rows whose
        objects were already deleted."""
        if not candidates:
            return
        done: list[Segment] = []
        unavailable: ObjectStoreUnavailable | None = None
        failed = 0
        try:
            with self.db.session() as session:
                for row in lock_unheld_segments(session=session, segment_ids=[c.id for c in candidates]):
                    try:
                        self.store.delete(row.object_key)
                    except NotFound:  # already gone (a run died between object and row): drop the row now
                        logger.info("segment object %s was already gone; removing its row", row.object_key)
                    except ObjectStoreUnavailable as exc:
                        unavailable = exc
                        break
                    except (ObjectStoreError, ValueError) as exc:  # refused (e.g. object lock) or a malformed key
                        failed += 1
                        if failed <= 3:
                            logger.warning("retention could not delete %s, keeping its row: %s", row.object_key, exc)
                        continue
                    done.append(row)
                removed = delete_segments(session=session, segment_ids=[row.id for row in done])
                if removed != len(done):  # cannot happen while the rows are locked; say so loudly if it does
                    logger.error("retention deleted %d objects but only %d of their rows; the others now point at "
                                 "missing footage", len(done), removed)
        except Exception:
            if done:
                logger.error("%d segment objects were deleted but removing their rows failed; the rows point at "
                             "missing footage until the next retention run removes them", len(done))
            raise
        freed = sum(row.bytes for row in done)
        tally.segments[reason] += len(done)
        tally.bytes[reason] += freed
        tally.failed_objects += failed
        if failed > 3:
            logger.warning("retention could not delete %d objects in this batch (first 3 shown above)", failed)
        if unavailable is not None:
            logger.warning("retention paused, the object store is unavailable: %s; segment rows are kept and the "
                           "next run continues", unavailable)
            raise _Stop("object store unavailable")
        if failed and not done:
            # Nothing in the batch could be deleted: the store refuses deletes altogether; do not hammer it.
            raise _Stop(f"object store refused {failed} deletes")

    @staticmethod
    def _check(interrupt: threading.Event | None) -> None:
        if interrupt is not None and interrupt.is_set():
            raise _Stop("retention worker stopping")
