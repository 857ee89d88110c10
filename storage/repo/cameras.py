"""Sites, recorders and cameras: inventory import, stream sources, health status."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.inventory import CameraConfig, CameraDetectionConfig, Inventory, with_credentials
from storage.audit import append_audit
from storage.credentials import CredentialCipher
from storage.errors import NotFound, StorageError
from storage.models import Camera, Recorder, Site, utcnow


@dataclass(frozen=True)
class CameraSource:
    """What ingest and detect need for a camera. The URLs carry credentials: never log them unmasked."""

    camera_id: int
    code: str
    record_url: str
    detect_url: str
    detection: CameraDetectionConfig = CameraDetectionConfig()


# What an administrator changes about a camera or recorder, as the audit log records it (health fields are not).
_CAMERA_FACTS = ("name", "village", "address", "latitude", "longitude", "view", "main_url", "sub_url", "recorder_id",
                 "channel", "username", "enabled", "retention_days", "funding_source", "donor", "amount_vnd",
                 "funded_on", "installed_on", "installer", "detection")
_RECORDER_FACTS = ("name", "vendor", "host", "port", "channels", "username", "funding_source", "donor", "amount_vnd")


def _facts(row: Camera | Recorder, names: tuple[str, ...], cipher: CredentialCipher) -> dict[str, object]:
    facts: dict[str, object] = {}
    for name in names:
        value = getattr(row, name)
        facts[name] = value.isoformat() if isinstance(value, dt.date) else value
    try:
        # the password itself never goes into the log: only whether it changed
        facts["password"] = hashlib.sha256(cipher.decrypt(row.password_encrypted).encode()).hexdigest()
    except StorageError:
        facts["password"] = None
    return facts


def _audit_change(session: Session, *, kind: str, code: str, before: dict[str, object] | None,
                  after: dict[str, object], actor: str, action: str = "update") -> None:
    """camera.create / camera.update (recorder.…; or camera.disable, camera.retire… by `action`): what changed, old
    and new; a password only as "changed"."""
    if before is None:
        details: dict[str, object] = {k: v for k, v in after.items() if k != "password"}
        details["password"] = "set" if after["password"] != hashlib.sha256(b"").hexdigest() else "none"
        append_audit(session=session, actor=actor, action=f"{kind}.create", subject=f"{kind}:{code}",
                     details=details)
        return
    changes: dict[str, object] = {k: [before.get(k), v] for k, v in after.items()
                                  if k != "password" and before.get(k) != v}
    if before.get("password") != after["password"]:
        changes["password"] = "changed"
    if changes:
        append_audit(session=session, actor=actor, action=f"{kind}.{action}", subject=f"{kind}:{code}",
                     details=changes)


def import_inventory(*, session: Session, inventory: Inventory, cipher: CredentialCipher,
                     actor: str = "inventory") -> list[str]:
    """Create or update the site, recorders and cameras; returns the camera codes. Health fields are kept. Every
    camera or recorder created or changed is an audit entry by `actor` (what changed, never a password)."""
    site = session.scalars(select(Site).where(Site.code == inventory.site.code)).first() or Site(code=inventory.site.code)
    site.name, site.kind, site.province = inventory.site.name, inventory.site.kind, inventory.site.province
    session.add(site)
    session.flush()

    recorders: dict[str, Recorder] = {}
    for rc in inventory.recorders:
        found = session.scalars(select(Recorder).where(Recorder.code == rc.code)).first()
        before = _facts(found, _RECORDER_FACTS, cipher) if found else None
        rec = found or Recorder(code=rc.code)
        rec.site_id, rec.name, rec.vendor, rec.host, rec.port = site.id, rc.name, rc.vendor, rc.host, rc.port
        rec.channels, rec.username = rc.channels, rc.username
        rec.password_encrypted = cipher.encrypt(rc.password.get_secret_value())
        rec.funding_source, rec.donor, rec.amount_vnd = rc.funding.source, rc.funding.donor, rc.funding.amount_vnd
        session.add(rec)
        recorders[rc.code] = rec
        _audit_change(session, kind="recorder", code=rc.code, before=before,
                      after=_facts(rec, _RECORDER_FACTS, cipher), actor=actor)
    session.flush()

    by_code = {r.code: r for r in inventory.recorders}
    for cc in inventory.cameras:
        found_cam = session.scalars(select(Camera).where(Camera.code == cc.code)).first()
        before = _facts(found_cam, _CAMERA_FACTS, cipher) if found_cam else None
        cam = found_cam or Camera(code=cc.code)
        _apply_camera(cam, cc, site_id=site.id, cipher=cipher)
        if cc.recorder:
            assert cc.channel is not None  # checked by the inventory schema
            rec_cfg = by_code[cc.recorder]
            cam.recorder_id, cam.channel = recorders[cc.recorder].id, cc.channel
            cam.main_url, cam.sub_url = rec_cfg.channel_urls(cc.channel)
            if not cc.username:  # channels use the recorder's login unless the camera has its own
                cam.username = rec_cfg.username
                cam.password_encrypted = cipher.encrypt(rec_cfg.password.get_secret_value())
        session.add(cam)
        session.flush()  # the recorder id is set
        _audit_change(session, kind="camera", code=cc.code, before=before, after=_facts(cam, _CAMERA_FACTS, cipher),
                      actor=actor)
    return [c.code for c in inventory.cameras]


def _apply_camera(cam: Camera, cc: CameraConfig, *, site_id: int, cipher: CredentialCipher) -> None:
    cam.site_id, cam.name, cam.village, cam.address, cam.view = site_id, cc.name, cc.village, cc.address, cc.view
    cam.latitude, cam.longitude = cc.latitude, cc.longitude
    cam.main_url, cam.sub_url = cc.main_url or "", cc.sub_url
    cam.recorder_id, cam.channel = None, None
    cam.username, cam.password_encrypted = cc.username, cipher.encrypt(cc.password.get_secret_value())
    cam.enabled, cam.retention_days = cc.enabled, cc.retention_days
    cam.funding_source, cam.donor, cam.amount_vnd = cc.funding.source, cc.funding.donor, cc.funding.amount_vnd
    cam.funded_on, cam.installed_on, cam.installer = cc.funding.date, cc.installed_on, cc.installer
    cam.detection = cc.detection.model_dump(mode="json")


def camera_sources(*, session: Session, cipher: CredentialCipher) -> list[CameraSource]:
    """The cameras to record: enabled and not retired."""
    sources = []
    query = select(Camera).where(Camera.enabled.is_(True), Camera.retired_at.is_(None)).order_by(Camera.code)
    for cam in session.scalars(query):
        password = cipher.decrypt(cam.password_encrypted)
        record = with_credentials(cam.main_url, cam.username, password)
        detect = with_credentials(cam.sub_url, cam.username, password) if cam.sub_url else record
        sources.append(CameraSource(camera_id=cam.id, code=cam.code, record_url=record, detect_url=detect,
                                    detection=CameraDetectionConfig.model_validate(cam.detection or {})))
    return sources


def get_camera(*, session: Session, code: str) -> Camera:
    cam = session.scalars(select(Camera).where(Camera.code == code)).first()
    if cam is None:
        raise NotFound(f"no camera {code!r}")
    return cam


def camera_ids_by_code(*, session: Session, codes: list[str]) -> dict[str, int]:
    return {code: cid for code, cid in session.execute(select(Camera.code, Camera.id).where(Camera.code.in_(codes)))}


def list_cameras(*, session: Session, retired: bool = True) -> list[Camera]:
    """Every camera; retired=False leaves out the retired ones (the live wall: they will never show a picture)."""
    query = select(Camera).order_by(Camera.code)
    return list(session.scalars(query if retired else query.where(Camera.retired_at.is_(None))))


def set_camera_status(*, session: Session, camera_id: int, status: str, detail: str = "") -> bool:
    """Record a health state; returns True when it changed (so callers log transitions, not every retry)."""
    cam = session.get(Camera, camera_id)
    if cam is None:
        raise NotFound(f"no camera id {camera_id}")
    changed = cam.status != status or cam.status_detail != detail
    if cam.status != status:
        cam.status_since = utcnow()
    cam.status, cam.status_detail = status, detail
    return changed


def touch_camera_segment(*, session: Session, camera_id: int, at: dt.datetime, bitrate_kbps: float | None = None
                         ) -> None:
    """A segment ending at `at` was stored; its size over its length is the bitrate actually recorded."""
    cam = session.get(Camera, camera_id)
    if cam is not None and (cam.last_segment_at is None or cam.last_segment_at < at):
        cam.last_segment_at = at
        if bitrate_kbps is not None:
            cam.bitrate_kbps = round(bitrate_kbps, 1)
