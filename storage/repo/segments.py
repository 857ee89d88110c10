"""Recorded segments: index, coverage queries, legal hold."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy import case, delete, func
from sqlalchemy.orm import Session, load_only

from storage.models import Segment
from storage.models import Camera


def add_segment(
    *, session: Session, camera_id: int, start_at: dt.datetime, end_at: dt.datetime, object_key: str, size: int,
    sha256: str,
) -> Segment:
    """Index an uploaded segment; uploading the same key again (after a crash) returns the existing row."""
    existing = session.scalars(select(Segment).where(Segment.object_key == object_key)).first()
    if existing is not None:
        return existing
    seg = Segment(camera_id=camera_id, start_at=start_at, end_at=end_at, object_key=object_key, bytes=size,
                  sha256=sha256)
    session.add(seg)
    session.flush()
    return seg


def segments_between(*, session: Session, camera_id: int, start: dt.datetime, end: dt.datetime) -> list[Segment]:
    """Segments of one camera that overlap [start, end), oldest first."""
    return list(
        session.scalars(
            select(Segment)
            .where(Segment.camera_id == camera_id, Segment.start_at < end, Segment.end_at > start)
            .order_by(Segment.start_at)
        )
    )


def hold_segments(*, session: Session, segment_ids: list[int]) -> None:
    if segment_ids:
        session.execute(update(Segment).where(Segment.id.in_(segment_ids)).values(legal_hold=True))


def release_segments(*, session: Session, segment_ids: list[int]) -> None:
    """Lift the legal hold (the caller has checked that no evidence still needs them); retention may prune them."""
    if segment_ids:
        session.execute(update(Segment).where(Segment.id.in_(segment_ids)).values(legal_hold=False))


# --- Retention: keyset pages over ix_segment_camera_time, so no query walks or loads the whole table. ---

# What retention reads of a row; sha256 and uploaded_at stay unloaded (unneeded, and every datetime costs a conversion).
_RETENTION_COLUMNS = load_only(Segment.id, Segment.camera_id, Segment.start_at, Segment.end_at, Segment.object_key,
                               Segment.bytes, Segment.legal_hold)


def retention_days_by_camera(*, session: Session) -> dict[int, int]:
    """Every camera's retention period in days, by camera id (disabled cameras too: their footage still ages)."""
    return {cid: days for cid, days in session.execute(select(Camera.id, Camera.retention_days).order_by(Camera.id))}


def expired_segments(
    *, session: Session, camera_id: int, before: dt.datetime, after: dt.datetime | None = None, limit: int,
) -> list[Segment]:
    """One camera's segments that ended before `before` and started after `after` (a keyset cursor), oldest
    first. Held segments are included so the caller can count them; it must never delete them."""
    query = select(Segment).options(_RETENTION_COLUMNS).where(
        Segment.camera_id == camera_id, Segment.start_at < before, Segment.end_at < before)
    if after is not None:
        query = query.where(Segment.start_at > after)
    return list(session.scalars(query.order_by(Segment.start_at).limit(limit)))


def oldest_segments(
    *, session: Session, camera_id: int, after: dt.datetime | None = None, limit: int,
) -> list[Segment]:
    """One camera's segments that started after `after` (a keyset cursor), oldest first, held ones included."""
    query = select(Segment).options(_RETENTION_COLUMNS).where(Segment.camera_id == camera_id)
    if after is not None:
        query = query.where(Segment.start_at > after)
    return list(session.scalars(query.order_by(Segment.start_at).limit(limit)))


def segment_bytes(*, session: Session) -> tuple[int, int]:
    """(bytes of all segments, bytes of those under legal hold), in one pass."""
    held = case((Segment.legal_hold.is_(True), Segment.bytes), else_=0)
    total, held_total = session.execute(
        select(func.coalesce(func.sum(Segment.bytes), 0), func.coalesce(func.sum(held), 0))
    ).one()
    return int(total), int(held_total)


def lock_unheld_segments(*, session: Session, segment_ids: list[int]) -> list[Segment]:
    """Re-read segments about to be deleted, locking them (FOR UPDATE; SQLite's write transaction already does) so
    no legal hold can land between this check and the delete. Held and already-deleted ones are left out; only
    id, object_key, bytes and start_at are loaded."""
    if not segment_ids:
        return []
    return list(session.scalars(
        select(Segment)
        .options(load_only(Segment.id, Segment.object_key, Segment.bytes, Segment.start_at))
        .where(Segment.id.in_(segment_ids), Segment.legal_hold.is_(False))
        .order_by(Segment.start_at)
        .with_for_update()
    ))


def delete_segments(*, session: Session, segment_ids: list[int]) -> int:
    """Delete segment rows (never held ones); returns how many went."""
    if not segment_ids:
        return 0
    result = session.execute(
        delete(Segment)
        .where(Segment.id.in_(segment_ids), Segment.legal_hold.is_(False))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)
