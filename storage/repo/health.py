"""Node health alerts and camera health figures."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Camera, HealthAlert, utcnow


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
