"""Event clips and snapshots streamed from the object store, with HTTP Range support (needed to play and seek)."""

from __future__ import annotations

from pathlib import PurePosixPath

from fastapi import APIRouter, Request
from fastapi.responses import Response

from review_ui.const import MEDIA_CACHE_CONTROL, MEDIA_TYPES
from review_ui.deps import CurrentUserDep, EventId, SessionDep, StoreDep
from review_ui.ranges import object_response
from storage.errors import NotFound
from storage.repo.events import get_event

router = APIRouter(include_in_schema=False)


def _media_type(key: str, default: str) -> str:
    return MEDIA_TYPES.get(PurePosixPath(key).suffix.lower(), default)


@router.api_route("/media/events/{event_id}/clip.mp4", methods=["GET", "HEAD"], name="media_clip")
def event_clip(request: Request, event_id: EventId, session: SessionDep, store: StoreDep, user: CurrentUserDep) -> Response:
    event = get_event(session=session, event_id=event_id)
    if event.clip_status != "ready" or not event.clip_key:
        raise NotFound(f"event {event_id} has no clip yet (status {event.clip_status})")
    return object_response(
        store, event.clip_key, media_type=_media_type(event.clip_key, "video/mp4"),
        range_header=request.headers.get("range"), head=request.method == "HEAD",
        extra_headers={"Cache-Control": MEDIA_CACHE_CONTROL,
                       "Content-Disposition": f'inline; filename="event-{event_id}.mp4"'},
    )


@router.api_route("/media/events/{event_id}/snapshot.jpg", methods=["GET", "HEAD"], name="media_snapshot")
def event_snapshot(
    request: Request, event_id: EventId, session: SessionDep, store: StoreDep, user: CurrentUserDep
) -> Response:
    event = get_event(session=session, event_id=event_id)
    if not event.snapshot_key:
        raise NotFound(f"event {event_id} has no snapshot")
    return object_response(
        store, event.snapshot_key, media_type=_media_type(event.snapshot_key, "image/jpeg"),
        range_header=request.headers.get("range"), head=request.method == "HEAD",
        extra_headers={"Cache-Control": MEDIA_CACHE_CONTROL},
    )
