"""The health page (every camera's state, figures and footage kept) and Prometheus metrics at /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from review_ui.camera_health import age_seconds, camera_health, summary
from review_ui.deps import CurrentUserDep, SessionDep
from review_ui.templating import render
from storage.models import utcnow
from storage.repo.health import open_alerts

router = APIRouter(include_in_schema=False)
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/health", name="health_page")
def health_page(request: Request, session: SessionDep, user: CurrentUserDep) -> Response:
    rows = camera_health(session=session, usage=request.app.state.storage_usage)
    settings = request.app.state.settings
    return render(request, "health.html", user=user, rows=rows, totals=summary(rows), now=utcnow(),
                  offline_after=settings.alerts.offline_after_minutes, age=age_seconds)


@router.get("/metrics", name="metrics")
def metrics(request: Request, session: SessionDep, user: CurrentUserDep) -> Response:
    """Prometheus text format. Scrape it with an API token of any role (Authorization: Bearer mt_…)."""
    rows = camera_health(session=session, usage=request.app.state.storage_usage)
    now = utcnow()
    out: list[str] = []

    def family(name: str, kind: str, help_text: str, samples: list[tuple[dict[str, str], float | None]]) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            if value is not None:
                text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
                out.append(f"{name}{{{text}}} {value:g}" if text else f"{name} {value:g}")

    active = [r for r in rows if r.enabled]
    family("matthan_camera_up", "gauge", "1 when the camera records now, else 0 (enabled cameras)",
           [({"camera": r.code}, float(r.online)) for r in active])
    family("matthan_camera_status", "gauge", "The camera's state as a label (value always 1)",
           [({"camera": r.code, "status": r.status}, 1.0) for r in active])
    family("matthan_camera_fps", "gauge", "Frames per second received (online cameras)",
           [({"camera": r.code}, r.fps) for r in active])
    family("matthan_camera_bitrate_kbps", "gauge", "Recorded bitrate in kbit/s (online cameras)",
           [({"camera": r.code}, r.bitrate_kbps) for r in active])
    family("matthan_camera_last_frame_age_seconds", "gauge", "Seconds since the last frame was received",
           [({"camera": r.code}, age_seconds(r.last_frame_at, now)) for r in active])
    family("matthan_camera_down_seconds", "gauge", "Seconds since a camera that does not record last recorded",
           [({"camera": r.code}, age_seconds(r.down_since, now)) for r in active if not r.online])
    family("matthan_camera_alert", "gauge", "1 while the camera's offline alert is open",
           [({"camera": r.code}, float(r.alert)) for r in active])
    family("matthan_camera_storage_bytes", "gauge", "Footage kept in the object store (counted once a minute)",
           [({"camera": r.code}, float(r.storage_bytes)) for r in rows])
    family("matthan_camera_segments", "gauge", "Segments kept in the object store (counted once a minute)",
           [({"camera": r.code}, float(r.segments)) for r in rows])
    totals = summary(rows)
    family("matthan_cameras", "gauge", "Enabled cameras", [({}, float(totals["cameras"]))])
    family("matthan_cameras_online", "gauge", "Enabled cameras recording now", [({}, float(totals["online"]))])
    counts: dict[tuple[str, str], int] = {}
    for alert in open_alerts(session=session):
        counts[(alert.code, alert.level)] = counts.get((alert.code, alert.level), 0) + 1
    family("matthan_alerts_open", "gauge", "Open health alerts by code and level",
           [({"code": code, "level": level}, float(n)) for (code, level), n in sorted(counts.items())])
    return PlainTextResponse("\n".join(out) + "\n", media_type=PROMETHEUS_TYPE)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
