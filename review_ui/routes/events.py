"""Event pages: the filterable list, one event with its clip, and the "tag as evidence" form."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from review_ui.const import EVENT_KINDS, OBJECT_LABELS, PAGE_SIZE, TAGGING_ROLES, TAMPER_REASONS, ZONE_MAX
from review_ui.deps import CsrfDep, CurrentUserDep, EventId, SessionDep, StoreDep, require_role
from review_ui.evidence import apply_holds_now, tag_into_case
from storage.repo.cases import cases_for_event, list_cases
from review_ui.i18n import say, translator
from review_ui.schemas import NOTE_MAX, TITLE_MAX, TagEvidenceIn
from review_ui.templating import page_language, render, set_flash
from review_ui.timefmt import parse_local_input
from storage.audit import append_audit
from storage.errors import Conflict
from storage.models import Camera, Event, User
from storage.repo.cameras import list_cameras
from storage.repo.events import COUNT_CAP, get_event, list_events, neighbours, set_reviewed

router = APIRouter(include_in_schema=False)
FormText = Annotated[str, Form(max_length=20_000)]


@router.get("/")
def home() -> Response:
    return RedirectResponse("/events", status_code=303)


@router.get("/events", name="events_page")
def events_page(
    request: Request,
    session: SessionDep,
    user: CurrentUserDep,
    camera: Annotated[str, Query(max_length=63)] = "",
    start: Annotated[str, Query(max_length=40)] = "",
    end: Annotated[str, Query(max_length=40)] = "",
    kind: Annotated[str, Query(max_length=30)] = "",
    label: Annotated[str, Query(max_length=30)] = "",
    zone: Annotated[str, Query(max_length=ZONE_MAX)] = "",
    reviewed: Annotated[str, Query(max_length=3)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    t = translator(page_language(request))
    tz = request.app.state.tz
    errors: list[str] = []
    bounds: dict[str, dt.datetime | None] = {}
    for name, text in (("start", start), ("end", end)):
        try:
            bounds[name] = parse_local_input(text, tz)
        except ValueError:
            errors.append(t("invalid_time", value=text))
            bounds[name] = None
    if bounds["start"] and bounds["end"] and bounds["end"] <= bounds["start"]:
        errors.append(t("time_order"))
    cameras = list_cameras(session=session)
    codes = [camera] if camera in {c.code for c in cameras} else None
    # Like an unknown camera, a kind or label the select does not offer is ignored rather than an error.
    kind = kind if kind in EVENT_KINDS else ""
    label = label if label in OBJECT_LABELS + TAMPER_REASONS else ""
    zone = zone.strip()
    reviewed = reviewed if reviewed in ("yes", "no") else ""
    events: list[Event] = []
    total = 0
    if not errors:
        events, total = list_events(session=session, camera_codes=codes, start=bounds["start"], end=bounds["end"],
                                    kind=kind or None, label=label or None, zone=zone or None,
                                    reviewed={"yes": True, "no": False}.get(reviewed), limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    chosen = (("camera", camera if codes else ""), ("kind", kind), ("label", label), ("zone", zone),
              ("reviewed", reviewed), ("start", start), ("end", end))
    filters = {k: v for k, v in chosen if v}

    def page_url(number: int) -> str:
        return "/events?" + urlencode({**filters, "page": number})

    return render(request, "events.html", user=user, events=events, total=total, page=page, pages=pages,
                  cameras=cameras, camera=camera if codes else "", start=start, end=end, errors=errors,
                  kind=kind, label=label, zone=zone, reviewed=reviewed, count_cap=COUNT_CAP, kinds=EVENT_KINDS, object_labels=OBJECT_LABELS,
                  tamper_reasons=TAMPER_REASONS, known_zones=_known_zones(cameras), zone_max=ZONE_MAX,
                  page_url=page_url, filtered=bool(filters),
                  unknown_camera=camera if camera and not codes else "")


def _known_zones(cameras: list[Camera]) -> list[str]:
    """The zone names configured on any camera (config.inventory CameraDetectionConfig.zones), for the zone filter."""
    names = {name for c in cameras for name in ((c.detection or {}).get("zones") or {})}
    return sorted(names)


def _render_event(
    request: Request, *, session: Session, user: User, event: Event, form: dict[str, str] | None = None,
    errors: list[str] | None = None, status_code: int = 200,
) -> Response:
    can_tag = user.role in TAGGING_ROLES
    newer_id, older_id = neighbours(session=session, event=event)
    return render(
        request, "event.html", user=user, status_code=status_code, event=event, can_tag=can_tag,
        newer_id=newer_id, older_id=older_id,
        cases=list_cases(session=session, status="open") if can_tag else [],
        holding=cases_for_event(session=session, event_id=event.id),
        form=form or {}, errors=errors or [],
    )


@router.get("/events/{event_id}", name="event_page")
def event_page(request: Request, event_id: EventId, session: SessionDep, user: CurrentUserDep) -> Response:
    event = get_event(session=session, event_id=event_id)
    append_audit(session=session, actor=user.username, action="event.view", subject=f"event:{event.id}",
                 details={"camera": event.camera.code, "clip": event.clip_key})
    return _render_event(request, session=session, user=user, event=event)


def _form_errors(exc: ValidationError, t: Callable[..., str]) -> list[str]:
    messages = []
    for err in exc.errors():
        field = err["loc"][0] if err["loc"] else None
        if field == "note" and err["type"] == "string_too_long":
            messages.append(t("err_too_long", field=t("note"), max=NOTE_MAX))
        elif field == "note":
            messages.append(t("err_note_required"))
        elif field == "new_case_title" and err["type"] == "string_too_long":
            messages.append(t("err_too_long", field=t("new_case_title"), max=TITLE_MAX))
        else:
            messages.append(t("err_one_case"))
    return list(dict.fromkeys(messages))


@router.post("/events/{event_id}/review", name="review_event")
def review_event(request: Request, event_id: EventId, session: SessionDep, user: CurrentUserDep, _csrf: CsrfDep,
                 reviewed: Annotated[str, Form(max_length=5)] = "true") -> Response:  # fmt: skip
    set_reviewed(session=session, event_id=event_id, reviewed=reviewed != "false", actor=user.username)
    return RedirectResponse(f"/events/{event_id}", status_code=303)


@router.post("/events/{event_id}/evidence", name="tag_event")
def tag_event(
    request: Request,
    event_id: EventId,
    session: SessionDep,
    store: StoreDep,
    user: CurrentUserDep,
    _csrf: CsrfDep,
    case_id: FormText = "",
    new_case_title: FormText = "",
    note: FormText = "",
) -> Response:
    require_role(user, TAGGING_ROLES)
    event = get_event(session=session, event_id=event_id)
    t = translator(page_language(request))
    form = {"case_id": case_id, "new_case_title": new_case_title, "note": note}
    errors: list[str] = []
    body = None
    chosen = case_id.strip()
    if chosen and not chosen.isdigit():
        errors.append(t("err_one_case"))
    else:
        try:
            body = TagEvidenceIn(case_id=int(chosen) if chosen else None,
                                 new_case_title=new_case_title.strip() or None, note=note)
        except ValidationError as exc:
            errors.extend(_form_errors(exc, t))
    if body is None:
        return _render_event(request, session=session, user=user, event=event, form=form, errors=errors,
                             status_code=422)
    try:
        evidence = tag_into_case(session=session, store=store, event_id=event_id, body=body, user=user)
    except Conflict as exc:
        session.rollback()  # drop a case opened in this request; the tag did not happen
        event = get_event(session=session, event_id=event_id)
        return _render_event(request, session=session, user=user, event=event, form=form, errors=[say(t, exc)],
                             status_code=409)
    apply_holds_now(session=session, store=store)
    set_flash(request, "evidence_tagged", event=event_id)
    return RedirectResponse(f"/cases/{evidence.case_id}#evidence-{evidence.id}", status_code=303)
