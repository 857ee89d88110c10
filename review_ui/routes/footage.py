"""Footage search page (cameras × a local day, in 10-minute slots) and recorded ranges as MP4."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from review_ui.const import MEDIA_CACHE_CONTROL
from review_ui.deps import CurrentUserDep, SessionDep, SettingsDep, StoreDep
from review_ui.footage import MAX_RANGE, PLAY_WINDOW, Recorded, footage_file, nearest_recordings, recorded, timeline
from review_ui.i18n import translator
from review_ui.templating import page_language, render
from review_ui.timefmt import format_duration
from storage.audit import append_audit
from storage.repo.cameras import get_camera, list_cameras
from storage.repo.segments import segments_between

router = APIRouter(include_in_schema=False)
MAX_CAMERAS = 16


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def footage_url(code: str, start: dt.datetime, end: dt.datetime, *, download: bool = False) -> str:
    query = {"start": _iso(start), "end": _iso(end), **({"download": "1"} if download else {})}
    return f"/media/footage/{code}.mp4?{urlencode(query)}"


@router.get("/footage", name="footage_page")
def footage_page(
    request: Request,
    session: SessionDep,
    user: CurrentUserDep,
    camera: Annotated[list[str] | None, Query(max_length=63)] = None,
    day: Annotated[str, Query(max_length=10)] = "",
    at: Annotated[str, Query(max_length=5, description="HH:MM, local: play from this minute")] = "",
    play: Annotated[str, Query(max_length=63)] = "",
) -> Response:
    return _render_footage(request, session, user, camera=camera or [], day=day, at=at, play=play)


def _render_footage(request: Request, session: SessionDep, user: CurrentUserDep, *, camera: list[str], day: str,
                    at: str = "", play: str = "", errors: list[str] | None = None, status_code: int = 200) -> Response:
    """The footage page; `errors` (already in the reader's words) go above it, e.g. a refused download."""
    tz = request.app.state.tz
    t = translator(page_language(request))
    cameras = list_cameras(session=session)
    known = {c.code: c for c in cameras}
    chosen = [c for c in dict.fromkeys(camera) if c in known][:MAX_CAMERAS]
    errors = list(errors or [])
    today = dt.datetime.now(tz).date()
    try:
        date = dt.date.fromisoformat(day) if day else today
    except ValueError:
        errors.append(t("invalid_day", value=day))
        date = today
    day_start = dt.datetime.combine(date, dt.time(0), tz).astimezone(dt.UTC)
    day_end = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(0), tz).astimezone(dt.UTC)
    rows = [(known[c], timeline(session=session, camera_id=known[c].id, start=day_start, end=day_end))
            for c in chosen]  # fmt: skip
    player = nothing = None
    if at or play:
        target = play if play in chosen else (chosen[0] if chosen else "")
        try:
            hour, minute = (int(p) for p in (at or "00:00").split(":"))
            start = dt.datetime.combine(date, dt.time(hour, minute), tz).astimezone(dt.UTC)
        except ValueError:
            errors.append(t("invalid_minute", value=at))
        else:
            if target:
                cam, end = known[target], start + PLAY_WINDOW
                held = recorded(session=session, camera_id=cam.id, start=start, end=end)
                if held.pieces:
                    player = _player(cam.code, start, end, held, tz) | {"camera": cam}
                else:  # no player and no download link: they would only fetch a 404
                    near = nearest_recordings(session=session, camera_id=cam.id, start=start, end=end)
                    nothing = {"camera": cam, "start": start, "end": end, "near": near,
                               "message": t("download_nothing", camera=cam.name, start=f"{start.astimezone(tz):%H:%M}",
                                            end=f"{end.astimezone(tz):%H:%M %d/%m/%Y}")}  # fmt: skip

    def play_url(code: str, at: dt.datetime) -> str:
        """Play `code` from the minute holding `at` (UTC), on that minute's local day."""
        local = at.astimezone(tz)
        return "/footage?" + urlencode([*(("camera", c) for c in chosen), ("day", local.date().isoformat()),
                                        ("at", local.strftime("%H:%M")), ("play", code)]) + "#player"  # fmt: skip

    def play_until(code: str, at: dt.datetime) -> str:
        """Play the window that ends with the minute holding `at` (the end of a recording)."""
        return play_url(code, at - dt.timedelta(microseconds=1) - PLAY_WINDOW + dt.timedelta(minutes=1))

    return render(request, "footage.html", user=user, cameras=cameras, chosen=chosen, day=date.isoformat(),
                  at=at, rows=rows, player=player, nothing=nothing, errors=errors, play_url=play_url,
                  play_until=play_until, clock=lambda at: f"{at.astimezone(tz):%H:%M:%S}", day_start=day_start,
                  footage_url=footage_url, status_code=status_code)  # fmt: skip


def _player(code: str, start: dt.datetime, end: dt.datetime, held: Recorded, tz: ZoneInfo) -> dict[str, Any]:
    """What the player shows besides the video: the recorded span it really holds, the gaps it skips, and (for
    footage.js, which shows the wall clock as it plays) where each piece of the video sits on the local clock."""
    first, last = held.spans[0].start, held.spans[-1].end
    clock, offset = [], 0.0
    for piece in held.pieces:
        local = piece.start.astimezone(tz)
        since_midnight = (local - local.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds()
        length = (piece.end - piece.start).total_seconds()
        clock.append([round(offset, 3), round(since_midnight, 3), round(length, 3)])
        offset += length
    return {"start": start, "end": end, "src": footage_url(code, start, end), "first": first, "last": last,
            "length": format_duration(first, first + held.length), "gaps": held.gaps, "clock": clock}


@router.api_route("/media/footage/{code}.mp4", methods=["GET", "HEAD"], name="media_footage")
def footage_media(
    request: Request,
    code: str,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    user: CurrentUserDep,
    start: Annotated[dt.datetime, Query(description="ISO-8601 with a UTC offset")],
    end: Annotated[dt.datetime, Query(description="ISO-8601 with a UTC offset")],
    download: Annotated[bool, Query()] = False,
) -> Response:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end need a UTC offset, e.g. 2024-05-01T03:00:00Z")
    cam = get_camera(session=session, code=code)
    path = footage_file(session=session, store=store, camera_id=cam.id, start=start, end=end,
                        cache_dir=Path(settings.data_dir) / "cache" / "footage")  # fmt: skip
    if download or "range" not in {k.lower() for k in request.headers}:
        # a download, or the first request of a player: on the record (the player's later Range requests are not)
        append_audit(session=session, actor=user.username, action="footage.download" if download else "footage.view",
                     subject=f"camera:{code}", details={"start": _iso(start), "end": _iso(end)})  # fmt: skip
    local = start.astimezone(request.app.state.tz)
    filename = f"{code}-{local:%Y%m%d-%H%M%S}.mp4"
    disposition = "attachment" if download else "inline"
    return FileResponse(path, media_type="video/mp4",
                        headers={"Content-Disposition": f'{disposition}; filename="{filename}"',
                                 "Cache-Control": MEDIA_CACHE_CONTROL})  # fmt: skip


@router.get("/footage/download", name="footage_download")
def footage_download(
    request: Request,
    session: SessionDep,
    user: CurrentUserDep,
    camera: Annotated[str, Query(max_length=63)],
    day: Annotated[str, Query(max_length=10)],
    start: Annotated[str, Query(alias="from", max_length=5)],
    end: Annotated[str, Query(alias="to", max_length=5)],
) -> Response:
    """The download form's local date and times, turned into the footage URL (an end at or before the start means
    the next day, e.g. 23:30 to 00:30). A range that cannot be downloaded (bad times, too long, nothing recorded)
    is refused on the footage page, in the reader's words, rather than by the MP4 address."""
    tz = request.app.state.tz
    t = translator(page_language(request))
    cam = get_camera(session=session, code=camera)
    try:
        date = dt.date.fromisoformat(day)
        first = dt.datetime.combine(date, dt.time.fromisoformat(start), tz)
        last = dt.datetime.combine(date, dt.time.fromisoformat(end), tz)
    except ValueError:
        return _render_footage(request, session, user, camera=[camera], day=day, errors=[t("download_bad_time")],
                               status_code=422)  # fmt: skip
    if last <= first:
        last += dt.timedelta(days=1)
    refused = None
    if last - first > MAX_RANGE:
        refused = t("download_too_long", hours=f"{MAX_RANGE.total_seconds() / 3600:g}"), 422
    elif not segments_between(session=session, camera_id=cam.id, start=first.astimezone(dt.UTC),
                              end=last.astimezone(dt.UTC)):  # fmt: skip
        refused = t("download_nothing", camera=cam.name, start=f"{first:%H:%M}", end=f"{last:%H:%M %d/%m/%Y}"), 404
    if refused:
        return _render_footage(request, session, user, camera=[camera], day=date.isoformat(), errors=[refused[0]],
                               status_code=refused[1])  # fmt: skip
    return RedirectResponse(footage_url(camera, first.astimezone(dt.UTC), last.astimezone(dt.UTC), download=True),
                            status_code=303)  # fmt: skip
