"""Recorded segments: index, coverage queries, legal hold."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import Segment


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
