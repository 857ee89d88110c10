"""Legal holds in the object store follow the database's, through a queue of objects to bring in line (an outbox).

The database decides what is held: a segment while Segment.legal_hold is set (tagging sets it; removing evidence
clears it only where no other evidence covers the segment), an evidence clip while an Evidence row names it. The
transaction that changes a hold also queues the objects' keys here. After its commit, `apply_pending_holds` reads
the database's answer again, under the queue row's lock, and sets or lifts the store's hold to match: an old queued
change can never undo a newer one, and a storage outage never loses a tag. What the store did not take stays queued;
the next request that changes holds and the worker's retention pass (`sync_object_holds`) retry it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import literal, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.db import Database
from storage.errors import NotFound, ObjectStoreError, ObjectStoreUnavailable
from storage.models import Evidence, HoldSync, Segment, utcnow
from storage.objectstore import ObjectStore

logger = logging.getLogger(__name__)

BATCH = 50  # objects per transaction: on SQLite the write lock is held while the store answers
ERROR_MAX = 1000  # characters of the store's last error kept on a queued row


@dataclass(frozen=True)
class HoldSyncReport:
    """What a pass did. `refused` are keys the store refused (kept queued, with the error, for the next pass)."""

    applied: int = 0  # holds set or lifted in the store
    skipped: int = 0  # nothing to do there: the store keeps no holds (no object lock), or the object is gone
    refused: tuple[str, ...] = ()
    stopped: str | None = None  # the store could not be reached: the rest stays queued

    @property
    def handled(self) -> int:
        return self.applied + self.skipped + len(self.refused)

    def __add__(self, other: HoldSyncReport) -> HoldSyncReport:
        return HoldSyncReport(applied=self.applied + other.applied, skipped=self.skipped + other.skipped,
                              refused=self.refused + other.refused, stopped=self.stopped or other.stopped)


def queue_hold_sync(*, session: Session, keys: Iterable[str]) -> None:
    """Queue objects whose hold changes in this transaction. Sorted, so concurrent taggers lock rows in one order;
    a key already queued is queued afresh (its old error and attempts no longer say anything)."""
    wanted = sorted(set(keys))
    if not wanted:
        return
    now = utcnow()
    statement = _insert(session)(HoldSync).values(
        [{"object_key": key, "queued_at": now, "attempts": 0, "last_error": ""} for key in wanted])
    session.execute(statement.on_conflict_do_update(
        index_elements=["object_key"], set_={"queued_at": now, "attempts": 0, "last_error": ""}))


def queue_held_objects(*, session: Session) -> None:
    """Queue every object the database holds (keys already queued stay as they are). Run once when a worker starts:
    store holds lost to a restore from backup, a move to a new bucket or a hand's deletion come back on their own."""
    keys = select(Segment.object_key).where(Segment.legal_hold.is_(True)).union(
        select(Evidence.object_key)).subquery()
    # WHERE true: SQLite cannot otherwise tell an upsert's ON CONFLICT from the SELECT's own clauses
    held = select(keys.c.object_key, literal(utcnow(), HoldSync.queued_at.type), literal(0), literal("")).where(true())
    session.execute(_insert(session)(HoldSync).from_select(["object_key", "queued_at", "attempts", "last_error"], held)
                    .on_conflict_do_nothing(index_elements=["object_key"]))


def held_in_database(*, session: Session, keys: list[str]) -> set[str]:
    """Of these object keys, the ones the database holds: held segments and clips some evidence names."""
    if not keys:
        return set()
    segments = session.scalars(select(Segment.object_key).where(Segment.object_key.in_(keys),
                                                                Segment.legal_hold.is_(True)))
    clips = session.scalars(select(Evidence.object_key).where(Evidence.object_key.in_(keys)))
    return set(segments) | set(clips)


def pending_hold_keys(*, session: Session) -> list[str]:
    """Queued keys, in key order (what waits for the store)."""
    return list(session.scalars(select(HoldSync.object_key).order_by(HoldSync.object_key)))


def apply_pending_holds(*, session: Session, store: ObjectStore, limit: int = BATCH,
                        exclude: Iterable[str] = ()) -> HoldSyncReport:
    """Bring up to `limit` queued objects in line with the database, in the caller's transaction (commit it after).
    Freshest first, so a request's own keys go before an old backlog and an always-refused key never blocks the
    others. Rows another process is working on are skipped (PostgreSQL; SQLite runs one writer at a time)."""
    query = (select(HoldSync).order_by(HoldSync.attempts, HoldSync.queued_at.desc(), HoldSync.object_key)
             .limit(limit).with_for_update(skip_locked=True))
    excluded = list(exclude)
    if excluded:
        query = query.where(HoldSync.object_key.not_in(excluded))
    rows = list(session.scalars(query))
    held = held_in_database(session=session, keys=[row.object_key for row in rows])
    applied = skipped = 0
    refused: list[str] = []
    for row in rows:
        key, on = row.object_key, row.object_key in held
        try:
            enforced = store.set_legal_hold(key, on)
        except ObjectStoreUnavailable as exc:
            _note_failure(row, exc)
            logger.warning("legal holds in the object store wait for it to answer (the database holds stand): %s",
                           exc)
            return HoldSyncReport(applied=applied, skipped=skipped, refused=tuple(refused), stopped=str(exc))
        except NotFound:
            if on:
                logger.error("object %s is evidence but missing from the object store: nothing there to hold", key)
            session.delete(row)
            skipped += 1
            continue
        except (ObjectStoreError, ValueError) as exc:
            _note_failure(row, exc)
            refused.append(key)
            logger.warning("the object store refused to %s the legal hold on %s (kept queued; the database hold "
                           "stands): %s", "set" if on else "lift", key, exc)
            continue
        session.delete(row)
        if enforced:
            applied += 1
        else:
            skipped += 1
    session.flush()
    return HoldSyncReport(applied=applied, skipped=skipped, refused=tuple(refused))


def sync_object_holds(*, db: Database, store: ObjectStore, batch_size: int = BATCH) -> HoldSyncReport:
    """Work through the whole queue, a batch per transaction; each refused key is tried once per pass."""
    total = HoldSyncReport()
    while True:
        with db.session() as session:
            part = apply_pending_holds(session=session, store=store, limit=batch_size, exclude=total.refused)
        total += part
        if part.stopped or part.handled < batch_size:
            break
    if total.handled:
        logger.info("object-store legal holds: %d set or lifted, %d needed nothing, %d refused%s", total.applied,
                    total.skipped, len(total.refused), f"; stopped: {total.stopped}" if total.stopped else "")
    return total


def _insert(session: Session) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (upserts)."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _note_failure(row: HoldSync, exc: Exception) -> None:
    row.attempts += 1
    row.last_error = str(exc)[:ERROR_MAX]
