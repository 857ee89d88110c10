"""Per-camera health as the health page, its JSON and /metrics show it: state, figures, footage kept, open alert."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session

from storage.models import Camera, utcnow
from storage.repo.cameras import list_cameras
from storage.repo.health import CAMERA_OFFLINE, camera_alert_node, down_since, open_alerts, storage_by_camera

STORAGE_TTL_S = 60.0  # the footage total is one aggregate over every segment row: counted at most once a minute


@dataclass(frozen=True)
class CameraHealth:
    code: str
    name: str
    village: str
    enabled: bool
    status: str
    detail: str
    since: dt.datetime | None  # in this state since
    down_since: dt.datetime | None  # not recording since (None while online)
    fps: float | None
    bitrate_kbps: float | None
    last_frame_at: dt.datetime | None
    last_segment_at: dt.datetime | None
    storage_bytes: int
    segments: int
    retention_days: int
    alert: bool  # an open camera_offline alert

    @property
    def online(self) -> bool:
        return self.status == "online"


class StorageUsage:
    """Bytes and segments per camera, recounted when older than STORAGE_TTL_S (one per app, shared by requests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at = -STORAGE_TTL_S
        self._value: dict[int, tuple[int, int]] = {}

    def get(self, session: Session) -> dict[int, tuple[int, int]]:
        with self._lock:
            if time.monotonic() - self._at >= STORAGE_TTL_S:
                self._value = storage_by_camera(session=session)
                self._at = time.monotonic()
            return self._value


def camera_health(*, session: Session, usage: StorageUsage) -> list[CameraHealth]:
    stored = usage.get(session)
    alerting = {a.node for a in open_alerts(session=session) if a.code == CAMERA_OFFLINE}
    return [_row(cam, stored.get(cam.id, (0, 0)), camera_alert_node(cam.code) in alerting)
            for cam in list_cameras(session=session, retired=False)]


def _row(cam: Camera, stored: tuple[int, int], alert: bool) -> CameraHealth:
    online = cam.status == "online"
    return CameraHealth(
        code=cam.code, name=cam.name, village=cam.village, enabled=cam.enabled, status=cam.status,
        detail=cam.status_detail or "", since=cam.status_since, down_since=None if online else down_since(cam),
        fps=cam.fps if online else None, bitrate_kbps=cam.bitrate_kbps if online else None,
        last_frame_at=cam.last_frame_at, last_segment_at=cam.last_segment_at, storage_bytes=stored[0],
        segments=stored[1], retention_days=cam.retention_days, alert=alert,
    )


def summary(rows: list[CameraHealth]) -> dict[str, int]:
    active = [r for r in rows if r.enabled]
    return {"cameras": len(active), "online": sum(r.online for r in active),
            "down": sum(not r.online for r in active), "alerts": sum(r.alert for r in rows),
            "storage_bytes": sum(r.storage_bytes for r in rows)}


def age_seconds(at: dt.datetime | None, now: dt.datetime | None = None) -> float | None:
    return None if at is None else max(0.0, ((now or utcnow()) - at).total_seconds())
