"""Cases and evidence: tagging a clip records its SHA-256, holds its segments and writes the audit log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from storage.audit import append_audit
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import Case, CaseAssignment, Evidence, Event, Segment, User, utcnow
from storage.objectstore import ObjectStore
from storage.repo.events import get_event
from storage.repo.holds import queue_hold_sync
from storage.repo.segments import hold_segments, release_segments, segments_between

CASE_STATUSES = ("open", "closed")
# who a case can be assigned to (duty officers watch; they do not investigate)
ASSIGNABLE_ROLES = ("investigator", "admin")


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
        raise Conflict("could not allocate a case number; try again", key="err_case_number")
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


def list_cases(*, session: Session, status: str | None = None, assigned_to: str | None = None, limit: int = 100,
               offset: int = 0) -> list[Case]:
    """Newest first; `assigned_to` is a user name."""
    query = (select(Case).options(joinedload(Case.created_by), selectinload(Case.assigned))
             .order_by(Case.id.desc()).limit(limit).offset(offset))
    if status is not None:
        query = query.where(Case.status == status)
    if assigned_to is not None:
        query = query.where(Case.id.in_(select(CaseAssignment.case_id).join(User, User.id == CaseAssignment.user_id)
                                        .where(User.username == assigned_to)))
    return list(session.scalars(query))


def assignable_users(*, session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.active.is_(True), User.role.in_(ASSIGNABLE_ROLES))
                                .order_by(User.username)))


def update_case(*, session: Session, case_id: int, user: User, title: str | None = None,
                description: str | None = None, status: str | None = None,
                assigned: list[str] | None = None) -> Case:
    """Change what is given (None = leave as is); the audit entry names each change, old and new."""
    case = get_case(session=session, case_id=case_id)
    changes: dict[str, object] = {}
    if title is not None and title != case.title:
        if not title.strip():
            raise InvalidInput("the title must not be empty", key="err_title_required")
        changes["title"] = [case.title, title]
        case.title = title
    if description is not None and description != case.description:
        changes["description"] = [case.description, description]
        case.description = description
    if status is not None and status != case.status:
        if status not in CASE_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(CASE_STATUSES)}", key="err_case_status")
        changes["status"] = [case.status, status]
        case.status = status
    if assigned is not None:
        wanted = sorted(set(assigned))
        users = list(session.scalars(select(User).where(User.username.in_(wanted)))) if wanted else []
        found = {u.username: u for u in users}
        missing = [name for name in wanted if name not in found]
        if missing:
            raise InvalidInput(f"no such user: {', '.join(missing)}", key="err_assign_unknown", names=", ".join(missing))
        unfit = [u.username for u in users if not u.active or u.role not in ASSIGNABLE_ROLES]
        if unfit:
            raise InvalidInput(f"a case can only be assigned to active investigators or administrators, not: "
                               f"{', '.join(unfit)}", key="err_assign_unfit", names=", ".join(unfit))
        before = sorted(u.username for u in case.assigned)
        if before != wanted:
            changes["assigned"] = [before, wanted]
            case.assigned = [found[name] for name in wanted]
    if changes:
        case.updated_at = utcnow()
        session.flush()
        append_audit(session=session, actor=user.username, action="case.update", subject=f"case:{case.number}",
                     details=changes)
    return case


def _require_open(case: Case) -> None:
    if case.status != "open":
        raise Conflict(f"case {case.number} is {case.status}; reopen it before changing its evidence",
                       key="err_case_closed", number=case.number)


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
    row, so the evidence record states what the store actually holds. The clip and its segments are held in the
    database and queued for the store's own legal hold (storage.repo.holds applies it after the commit)."""
    case = get_case(session=session, case_id=case_id)
    _require_open(case)
    event = get_event(session=session, event_id=event_id)
    if event.clip_status != "ready" or not event.clip_key:
        raise Conflict(f"event {event_id} has no clip yet (status {event.clip_status}); try again when it is ready",
                       key="err_event_no_clip", event=event_id)
    duplicate = select(Evidence.id).where(Evidence.case_id == case.id, Evidence.event_id == event_id)
    if session.scalar(duplicate) is not None:
        raise Conflict(f"event {event_id} is already evidence in case {case.number}", key="err_already_evidence",
                       event=event_id, number=case.number)
    sha = store.sha256(event.clip_key)
    size = store.stat(event.clip_key).size
    evidence = Evidence(case_id=case.id, event_id=event.id, object_key=event.clip_key, sha256=sha, bytes=size,
                        note=note, tagged_by_id=user.id)
    case.evidence.append(evidence)
    held = [event.clip_key]
    if event.clip_start_at and event.clip_end_at:
        segs = segments_between(session=session, camera_id=event.camera_id, start=event.clip_start_at,
                                end=event.clip_end_at)
        hold_segments(session=session, segment_ids=[s.id for s in segs])
        held += [s.object_key for s in segs]
    queue_hold_sync(session=session, keys=held)
    session.flush()
    append_audit(session=session, actor=user.username, action="evidence.tag", subject=f"case:{case.number}",
                 details={"event": event.id, "object": event.clip_key, "sha256": sha, "note": note})
    return evidence


def remove_evidence(*, session: Session, case_id: int, evidence_id: int, reason: str, user: User) -> None:
    """Take a wrongly tagged clip out of a case. The row goes; the audit entry keeps what it was (event, SHA-256, who
    tagged it) and why it was removed. Segments stay held while any other evidence still covers them, the clip while
    other evidence names it; the store's holds follow (the released objects are queued for storage.repo.holds)."""
    case = get_case(session=session, case_id=case_id)
    _require_open(case)
    evidence = next((e for e in case.evidence if e.id == evidence_id), None)
    if evidence is None:
        raise NotFound(f"case {case.number} has no evidence item {evidence_id}")
    if not reason.strip():
        raise ValueError("say why the evidence is removed (reason)")
    event = evidence.event
    details = {"evidence": evidence.id, "event": event.id, "object": evidence.object_key, "sha256": evidence.sha256,
               "tagged_by": evidence.tagged_by.username, "reason": reason}
    case.evidence.remove(evidence)
    session.delete(evidence)
    session.flush()
    lifted = [evidence.object_key]  # the clip's hold goes only if no other evidence names it (holds.py asks again)
    if event.clip_start_at and event.clip_end_at:
        segs = segments_between(session=session, camera_id=event.camera_id, start=event.clip_start_at,
                                end=event.clip_end_at)
        still_held = _segments_held_by_evidence(session, camera_id=event.camera_id, segments=segs)
        released = [s for s in segs if s.id not in still_held]
        release_segments(session=session, segment_ids=[s.id for s in released])
        lifted += [s.object_key for s in released]
    queue_hold_sync(session=session, keys=lifted)
    append_audit(session=session, actor=user.username, action="evidence.remove", subject=f"case:{case.number}",
                 details=details)


def _segments_held_by_evidence(session: Session, *, camera_id: int, segments: list[Segment]) -> set[int]:
    """Of these segments, the ids some remaining evidence item's clip covers (in any case)."""
    if not segments:
        return set()
    lo, hi = min(s.start_at for s in segments), max(s.end_at for s in segments)
    clips = session.execute(select(Event.clip_start_at, Event.clip_end_at).join(Evidence, Evidence.event_id == Event.id)
                            .where(Event.camera_id == camera_id, Event.clip_start_at < hi, Event.clip_end_at > lo))
    ranges = list(clips)
    return {s.id for s in segments if any(a < s.end_at and b > s.start_at for a, b in ranges if a and b)}
