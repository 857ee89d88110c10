"""Detected events: create, finish, attach clip and snapshot, query."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, CompoundSelect, func, literal, or_, select, tuple_, union
from sqlalchemy.orm import Session, joinedload

from storage.audit import append_audit
from storage.errors import NotFound
from storage.models import Camera, Event, utcnow


def create_event(
    *, session: Session, camera_id: int, kind: str, start_at: dt.datetime, labels: list[str] | None = None,
    score: float = 0.0,
) -> Event:
    event = Event(camera_id=camera_id, kind=kind, start_at=start_at, labels=labels or [], score=score, boxes=[])
    session.add(event)
    session.flush()
    return event


def finish_event(
    *, session: Session, event_id: int, end_at: dt.datetime, score: float | None = None,
    boxes: list[Any] | None = None, snapshot_key: str | None = None,
) -> Event:
    event = get_event(session=session, event_id=event_id)
    event.end_at = end_at
    if score is not None:
        event.score = score
    if boxes is not None:
        event.boxes = boxes
    if snapshot_key is not None:
        event.snapshot_key = snapshot_key
    return event


def set_event_snapshot(*, session: Session, event_id: int, snapshot_key: str) -> None:
    get_event(session=session, event_id=event_id).snapshot_key = snapshot_key


def set_event_clip(
    *, session: Session, event_id: int, status: str, clip_key: str | None = None, sha256: str | None = None,
    clip_start_at: dt.datetime | None = None, clip_end_at: dt.datetime | None = None,
) -> None:
    event = get_event(session=session, event_id=event_id)
    event.clip_status, event.clip_key, event.clip_sha256 = status, clip_key, sha256
    event.clip_start_at, event.clip_end_at = clip_start_at, clip_end_at


def get_event(*, session: Session, event_id: int) -> Event:
    event = session.get(Event, event_id, options=[joinedload(Event.camera)])
    if event is None:
        raise NotFound(f"no event {event_id}")
    return event


def set_reviewed(*, session: Session, event_id: int, reviewed: bool, actor: str) -> Event:
    """Mark an event reviewed (or not); audited, since what was looked at and by whom matters afterwards."""
    event = get_event(session=session, event_id=event_id)
    if reviewed and event.reviewed_at is None:
        event.reviewed_at, event.reviewed_by = utcnow(), actor
    elif not reviewed:
        event.reviewed_at = event.reviewed_by = None
    append_audit(session=session, actor=actor, action="event.review" if reviewed else "event.unreview",
                 subject=f"event:{event.id}")
    return event


def neighbours(*, session: Session, event: Event) -> tuple[int | None, int | None]:
    """Ids of the next newer and next older event (all cameras, the list's order), for paging through them."""
    key = (Event.start_at, Event.id)
    newer = session.scalar(select(Event.id).where(tuple_(*key) > tuple_(event.start_at, event.id))
                           .order_by(Event.start_at, Event.id).limit(1))  # fmt: skip
    older = session.scalar(select(Event.id).where(tuple_(*key) < tuple_(event.start_at, event.id))
                           .order_by(Event.start_at.desc(), Event.id.desc()).limit(1))  # fmt: skip
    return newer, older


# Motion, vehicle and person events are split at detect.max_event_seconds (at most an hour, open ones too), so one
# that overlaps a window started at most this long before it: the index on (camera, start) bounds the search from
# both sides. Offline and tamper periods can be any length; the (camera, kind, start) index finds those.
SPLIT_BOUND = dt.timedelta(hours=1)
UNBOUNDED_KINDS = ("offline", "tamper")
COUNT_CAP = 10_000  # totals are counted up to this; beyond, the pages say "more than"


def list_events(
    *, session: Session, camera_codes: list[str] | None = None, start: dt.datetime | None = None,
    end: dt.datetime | None = None, kind: str | None = None, limit: int = 100, offset: int = 0,
    label: str | None = None, zone: str | None = None, reviewed: bool | None = None,
) -> tuple[list[Event], int]:
    """Events newest first, overlapping [start, end) when given, with the total count for paging (counted up to
    COUNT_CAP + 1). `label` and `zone` keep events whose labels (or zones entered) include that exact name."""
    query = select(Event)
    ids: list[int] | None = None
    if camera_codes:
        ids = list(session.scalars(select(Camera.id).where(Camera.code.in_(camera_codes))))
        query = query.where(Event.camera_id.in_(ids))
    if end is not None:
        query = query.where(Event.start_at < end)
    if start is not None:
        query = query.where(Event.id.in_(_overlapping_ids(session, ids, start, end)))
    if kind:
        query = query.where(Event.kind == kind)
    if reviewed is not None:
        query = query.where(Event.reviewed_at.is_not(None) if reviewed else Event.reviewed_at.is_(None))
    dialect = session.get_bind().dialect.name
    if label:
        query = query.where(_json_list_holds(Event.labels, label, dialect=dialect))
    if zone:
        query = query.where(_json_list_holds(Event.zones, zone, dialect=dialect))
    capped = query.with_only_columns(Event.id).limit(COUNT_CAP + 1).subquery()
    total = session.scalar(select(func.count()).select_from(capped)) or 0
    rows = session.scalars(
        query.options(joinedload(Event.camera)).order_by(Event.start_at.desc(), Event.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), total


def _overlapping_ids(session: Session, camera_ids: list[int] | None, start: dt.datetime,
                     end: dt.datetime | None) -> CompoundSelect:
    """Ids of the events that overlap [start, end), as two index range scans joined by UNION: the split kinds by
    (camera, start) from SPLIT_BOUND before the window, the unbounded kinds by (camera, kind, start). One query with
    an OR of the two cannot use either index range (SQLite and PostgreSQL both scanned every event of the camera)."""
    if camera_ids is None:  # every camera: naming them keeps both scans on the camera-led indexes
        camera_ids = list(session.scalars(select(Camera.id)))
    overlaps = [Event.camera_id.in_(camera_ids), or_(Event.end_at.is_(None), Event.end_at > start)]
    if end is not None:
        overlaps.append(Event.start_at < end)
    split = select(Event.id).where(*overlaps, Event.start_at >= start - SPLIT_BOUND)
    unbounded = select(Event.id).where(*overlaps, Event.kind.in_(UNBOUNDED_KINDS))
    return union(split, unbounded)


def _json_list_holds(column: Any, value: str, *, dialect: str) -> ColumnElement[bool]:
    """EXISTS over the elements of a JSON list of strings. Matching whole elements (not LIKE on the JSON text) keeps
    "cổng" from matching "cổng trường" and does not depend on how the JSON text escapes non-ASCII names."""
    expand = func.json_array_elements_text if dialect == "postgresql" else func.json_each
    elements = expand(column).table_valued("value")
    return select(literal(1)).select_from(elements).where(elements.c.value == value).exists()


OFFLINE = "offline"


def open_offline_event(*, session: Session, camera_id: int, since: dt.datetime, status: str, detail: str) -> Event:
    """A period without recording. Has no clip (there is no footage); one open period per camera at most."""
    current = session.scalars(
        select(Event).where(Event.camera_id == camera_id, Event.kind == OFFLINE, Event.end_at.is_(None))
    ).first()
    if current is not None:
        current.labels, current.detail = [status], detail
        return current
    event = Event(camera_id=camera_id, kind=OFFLINE, start_at=since, labels=[status], score=0.0, boxes=[],
                  clip_status="none", detail=detail)
    session.add(event)
    session.flush()
    return event


def close_offline_event(*, session: Session, camera_id: int, until: dt.datetime) -> Event | None:
    current = session.scalars(
        select(Event).where(Event.camera_id == camera_id, Event.kind == OFFLINE, Event.end_at.is_(None))
    ).first()
    if current is not None:
        current.end_at = max(until, current.start_at)
    return current


def close_open_events(*, session: Session, camera_id: int, recorded_until: dt.datetime | None) -> list[int]:
    """End detection events a stopped or crashed detector left open, at the last recorded moment (never before their
    start), so they get a clip instead of staying 'in progress' for ever. Offline periods are ingest's and stay open
    until the camera records again. Returns the ids closed."""
    open_events = session.scalars(
        select(Event).where(Event.camera_id == camera_id, Event.end_at.is_(None), Event.kind != OFFLINE)
    )
    closed = []
    for event in open_events:
        event.end_at = max(event.start_at, recorded_until or event.start_at)
        closed.append(event.id)
    return closed


def events_waiting_for_clip(*, session: Session, limit: int = 50) -> list[Event]:
    return list(
        session.scalars(
            select(Event).where(Event.clip_status == "pending", Event.end_at.is_not(None)).order_by(Event.id).limit(limit)
        )
    )
