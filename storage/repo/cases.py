"""Cases and evidence: tagging a clip records its SHA-256, holds its segments and writes the audit log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from storage.audit import append_audit
from storage.errors import Conflict, NotFound
from storage.models import Case, Evidence, Event, User
from storage.objectstore import ObjectStore
from storage.repo.events import get_event
from storage.repo.segments import hold_segments, segments_between


def _next_case_number(session: Session) -> str:
    """VV-<year>-<n>: one more than the highest number of the year (not the count, which deleted cases lower)."""
    year = dt.datetime.now(dt.UTC).year
    prefix = f"VV-{year}-"
    numbers = session.scalars(select(Case.number).where(Case.number.like(f"{prefix}%")))
    highest = max((int(n.removeprefix(prefix)) for n in numbers if n.removeprefix(prefix).isdigit()), default=0)
    return f"{prefix}{highest + 1:04d}"


def create_case(*, session: Session, title: str, description: str = "", user: User) -> Case:
    """Open a case. Two openings racing for one number: the loser's insert fails on the unique number and is
    retried inside a savepoint, so the caller's transaction survives."""
    for _attempt in range(5):
        case = Case(number=_next_case_number(session), title=title, description=description, created_by_id=user.id)
        try:
            with session.begin_nested():
                session.add(case)
                session.flush()
            break
        except SAIntegrityError:
            continue
    else:
        raise Conflict("could not allocate a case number; try again")
    append_audit(session=session, actor=user.username, action="case.create", subject=f"case:{case.number}",
                 details={"title": title})
    return case


def get_case(*, session: Session, case_id: int) -> Case:
    case = session.get(
        Case, case_id,
        options=[selectinload(Case.evidence).joinedload(Evidence.event).joinedload(Event.camera),
                 selectinload(Case.evidence).joinedload(Evidence.tagged_by)],
    )
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


def list_cases(*, session: Session, status: str | None = None, limit: int = 100, offset: int = 0) -> list[Case]:
    query = select(Case).options(joinedload(Case.created_by)).order_by(Case.id.desc()).limit(limit).offset(offset)
    if status is not None:
        query = query.where(Case.status == status)
    return list(session.scalars(query))


def evidence_counts(*, session: Session, case_ids: list[int]) -> dict[int, int]:
    if not case_ids:
        return {}
    rows = session.execute(select(Evidence.case_id, func.count(Evidence.id))
                           .where(Evidence.case_id.in_(case_ids)).group_by(Evidence.case_id))
    return {case_id: count for case_id, count in rows}


def cases_for_event(*, session: Session, event_id: int) -> list[Case]:
    return list(session.scalars(select(Case).join(Evidence, Evidence.case_id == Case.id)
                                .where(Evidence.event_id == event_id).order_by(Case.id)))


def tag_evidence(
    *, session: Session, store: ObjectStore, case_id: int, event_id: int, note: str, user: User
) -> Evidence:
    """Tag an event's clip into a case. The SHA-256 is computed from the stored bytes now, not copied from the event
    row, so the evidence record states what the store actually holds."""
    case = get_case(session=session, case_id=case_id)
    event = get_event(session=session, event_id=event_id)
    if event.clip_status != "ready" or not event.clip_key:
        raise Conflict(f"event {event_id} has no clip yet (status {event.clip_status}); try again when it is ready")
    duplicate = select(Evidence.id).where(Evidence.case_id == case.id, Evidence.event_id == event_id)
    if session.scalar(duplicate) is not None:
        raise Conflict(f"event {event_id} is already evidence in case {case.number}")
    sha = store.sha256(event.clip_key)
    size = store.stat(event.clip_key).size
    evidence = Evidence(case_id=case.id, event_id=event.id, object_key=event.clip_key, sha256=sha, bytes=size,
                        note=note, tagged_by_id=user.id)
    case.evidence.append(evidence)
    if event.clip_start_at and event.clip_end_at:
        segs = segments_between(session=session, camera_id=event.camera_id, start=event.clip_start_at,
                                end=event.clip_end_at)
        hold_segments(session=session, segment_ids=[s.id for s in segs])
    session.flush()
    append_audit(session=session, actor=user.username, action="evidence.tag", subject=f"case:{case.number}",
                 details={"event": event.id, "object": event.clip_key, "sha256": sha, "note": note})
    return evidence
