"""Node health alerts and camera health figures."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Camera, HealthAlert, Segment, utcnow

CAMERA_OFFLINE = "camera_offline"  # the alert of a camera down longer than alerts.offline_after_minutes


def raise_alert(*, session: Session, code: str, level: str, node: str, message: str) -> bool:
    """Open an alert, or refresh the message of the open one; returns True when it is new."""
    alert = open_alert(session=session, code=code, node=node)
    if alert is not None:
        alert.message, alert.level = message, level
        return False
    session.add(HealthAlert(code=code, level=level, node=node, message=message))
    session.flush()
    return True


def resolve_alert(*, session: Session, code: str, node: str) -> bool:
    alert = open_alert(session=session, code=code, node=node)
    if alert is None:
        return False
    alert.resolved_at = utcnow()
    return True


def open_alert(*, session: Session, code: str, node: str) -> HealthAlert | None:
    return session.scalars(
        select(HealthAlert).where(HealthAlert.code == code, HealthAlert.node == node, HealthAlert.resolved_at.is_(None))
    ).first()


def open_alerts(*, session: Session) -> list[HealthAlert]:
    return list(session.scalars(select(HealthAlert).where(HealthAlert.resolved_at.is_(None)).order_by(HealthAlert.id)))


def save_camera_figures(
    *, session: Session, camera_id: int, fps: float | None, bitrate_kbps: float | None, last_frame_at: dt.datetime | None
) -> None:
    cam = session.get(Camera, camera_id)
    if cam is not None:
        cam.fps = fps
        if bitrate_kbps is not None:  # ffmpeg does not report it when stream-copying; the uploader measures it
            cam.bitrate_kbps = bitrate_kbps
        if last_frame_at is not None:
            cam.last_frame_at = last_frame_at


def camera_alert_node(code: str) -> str:
    """A camera's own alerts are keyed by the camera, not by the machine that noticed: any node may raise or resolve
    them (issue 7 moves cameras between nodes)."""
    return f"camera:{code}"


def down_since(camera: Camera) -> dt.datetime | None:
    """When the camera last recorded (its last frame), else when it entered its present state."""
    return camera.last_frame_at or camera.status_since


def cameras_down(*, session: Session, longer_than: dt.timedelta, now: dt.datetime | None = None,
                 camera_ids: set[int] | None = None) -> list[Camera]:
    """Enabled cameras that have not recorded for longer than `longer_than` (among `camera_ids`, when given)."""
    now = now or utcnow()
    query = select(Camera).where(Camera.enabled.is_(True), Camera.retired_at.is_(None), Camera.status != "online",
                                 Camera.status != "unknown")
    if camera_ids is not None:
        query = query.where(Camera.id.in_(camera_ids))
    return [cam for cam in session.scalars(query.order_by(Camera.code))
            if (since := down_since(cam)) is not None and now - since > longer_than]


def open_camera_alerts(*, session: Session, camera_ids: set[int] | None = None
                       ) -> list[tuple[HealthAlert, Camera | None]]:
    """Open camera_offline alerts with their camera (None when the camera is gone): those of `camera_ids` (when
    given) and those of cameras nobody records."""
    alerts = session.scalars(select(HealthAlert).where(HealthAlert.code == CAMERA_OFFLINE,
                                                      HealthAlert.resolved_at.is_(None)))  # fmt: skip
    cameras = {camera_alert_node(c.code): c for c in session.scalars(select(Camera))}
    out = []
    for alert in alerts:
        cam = cameras.get(alert.node)
        # a disabled, retired or removed camera is nobody's: any node resolves its alert
        if camera_ids is None or cam is None or not cam.enabled or cam.retired_at is not None or cam.id in camera_ids:
            out.append((alert, cam))
    return out


def storage_by_camera(*, session: Session) -> dict[int, tuple[int, int]]:
    """Bytes and segment count kept per camera id (one aggregate over the segment table; cache it)."""
    rows = session.execute(select(Segment.camera_id, func.sum(Segment.bytes), func.count(Segment.id))
                           .group_by(Segment.camera_id))  # fmt: skip
    return {camera_id: (int(total or 0), int(count)) for camera_id, total, count in rows}
