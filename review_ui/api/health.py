"""The node's open health alerts as JSON (the same ones the pages' banner shows)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from review_ui.camera_health import camera_health
from review_ui.deps import CurrentUserDep, SessionDep
from review_ui.schemas import HealthAlertOut
from storage.repo.health import open_alerts

router = APIRouter(prefix="/health", tags=["health"])


class CameraHealthOut(BaseModel):
    code: str
    name: str
    village: str
    enabled: bool
    status: str = Field(description="online | connecting | offline | auth_failed | unsupported_stream | disk_full | unknown")
    detail: str = Field(description="Why, and what to do, when it is not online")
    since: dt.datetime | None = Field(description="UTC; in this state since")
    down_since: dt.datetime | None = Field(description="UTC; not recording since (null while online)")
    fps: float | None
    bitrate_kbps: float | None
    last_frame_at: dt.datetime | None
    last_segment_at: dt.datetime | None
    storage_bytes: int = Field(description="Footage kept in the object store (recounted at most once a minute)")
    segments: int
    retention_days: int
    alert: bool = Field(description="Its offline alert is open (down longer than alerts.offline_after_minutes)")


@router.get("/cameras", response_model=list[CameraHealthOut])
def cameras(request: Request, session: SessionDep, user: CurrentUserDep) -> list[CameraHealthOut]:
    """Every camera's state and figures, as the health page shows them."""
    rows = camera_health(session=session, usage=request.app.state.storage_usage)
    return [CameraHealthOut(**{name: getattr(r, name) for name in CameraHealthOut.model_fields}) for r in rows]


@router.get("/alerts", response_model=list[HealthAlertOut])
def alerts(session: SessionDep, user: CurrentUserDep) -> list[HealthAlertOut]:
    """Alerts raised and not yet resolved (spool over quota, object store unreachable, detection off), oldest
    first."""
    return [HealthAlertOut.from_alert(a) for a in open_alerts(session=session)]
