"""Events as JSON, and tagging an event's clip as evidence."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from fastapi import APIRouter, Query, Request

from config.inventory import CODE_PATTERN
from review_ui.const import API_DEFAULT_LIMIT, API_MAX_LIMIT, API_MAX_OFFSET, TAGGING_ROLES, ZONE_MAX
from review_ui.deps import CurrentUserDep, EventId, SessionDep, StoreDep, require_role
from review_ui.evidence import apply_holds_now, tag_into_case
from review_ui.schemas import WRITE_ERRORS, ErrorOut, EventOut, EventPage, EvidenceOut, ReviewIn, TagEvidenceIn
from storage.repo.events import get_event, list_events, set_reviewed

router = APIRouter(prefix="/events", tags=["events"])

NOT_FOUND = {404: {"model": ErrorOut, "description": "No such event (or case)"}}


def _aware(name: str, value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name} needs a UTC offset, e.g. 2024-05-01T03:00:00Z or 2024-05-01T10:00:00+07:00")
    return value


@router.get("", response_model=EventPage)
def events(
    request: Request,
    session: SessionDep,
    user: CurrentUserDep,
    camera: Annotated[list[str] | None, Query(description="Camera code; repeat for several")] = None,
    start: Annotated[dt.datetime | None, Query(description="Events still going on at this time or later "
                                                           "(ISO-8601 with a UTC offset)")] = None,
    end: Annotated[dt.datetime | None, Query(description="Events that started before this (ISO-8601 with offset)")] = None,
    kind: Annotated[str | None, Query(max_length=30, description="motion, vehicle, person, tamper or offline")] = None,
    label: Annotated[str | None, Query(max_length=30, description="Events with this label, e.g. motorbike")] = None,
    zone: Annotated[str | None, Query(max_length=ZONE_MAX, description="Events that entered this zone")] = None,
    reviewed: Annotated[bool | None, Query(description="true: only reviewed events; false: only the others")] = None,
    limit: Annotated[int, Query(ge=1, le=API_MAX_LIMIT)] = API_DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=API_MAX_OFFSET)] = 0,
) -> EventPage:
    """Events newest first, overlapping [start, end); kind, label and zone narrow them further."""
    codes = camera or []
    if len(codes) > 100 or any(not isinstance(c, str) or len(c) > 63 for c in codes):
        raise ValueError("camera: give at most 100 camera codes of up to 63 characters")
    bad = [c for c in codes if not re.match(CODE_PATTERN, c)]
    if bad:
        raise ValueError(f"camera: {bad[0]!r} is not a camera code (lower-case letters, digits and '-')")
    start, end = _aware("start", start), _aware("end", end)
    if start and end and end <= start:
        raise ValueError("end must be after start")
    rows, total = list_events(session=session, camera_codes=codes or None, start=start, end=end, kind=kind or None,
                              label=label or None, zone=(zone or "").strip() or None, reviewed=reviewed, limit=limit,
                              offset=offset)  # fmt: skip
    root = request.scope.get("root_path", "")
    return EventPage(items=[EventOut.from_event(e, root=root) for e in rows], total=total, limit=limit, offset=offset)


@router.post("/{event_id}/review", response_model=EventOut, responses={**WRITE_ERRORS, **NOT_FOUND})
def review(request: Request, event_id: EventId, body: ReviewIn, session: SessionDep, user: CurrentUserDep) -> EventOut:
    """Mark an event reviewed, or not (any role); audited."""
    event = set_reviewed(session=session, event_id=event_id, reviewed=body.reviewed, actor=user.username)
    session.flush()
    return EventOut.from_event(event, root=request.scope.get("root_path", ""))


@router.get("/{event_id}", response_model=EventOut, responses=NOT_FOUND)
def event(request: Request, event_id: EventId, session: SessionDep, user: CurrentUserDep) -> EventOut:
    return EventOut.from_event(get_event(session=session, event_id=event_id), root=request.scope.get("root_path", ""))


@router.post("/{event_id}/evidence", status_code=201, response_model=EvidenceOut,
             responses={**NOT_FOUND, **WRITE_ERRORS,
                        409: {"model": ErrorOut, "description": "Clip not ready, or already evidence in that case"}})
def tag(event_id: EventId, body: TagEvidenceIn, session: SessionDep, store: StoreDep, user: CurrentUserDep) -> EvidenceOut:
    """Tag the event's clip into a case: records the clip's SHA-256 (computed from the stored bytes), puts a legal
    hold on the segments behind it and writes the audit log. Needs role admin or investigator."""
    require_role(user, TAGGING_ROLES)
    evidence = tag_into_case(session=session, store=store, event_id=event_id, body=body, user=user)
    apply_holds_now(session=session, store=store)
    session.refresh(evidence)
    return EvidenceOut.from_evidence(evidence, tagged_by=user)
