"""Camera administration by a person: register, edit, disable, retire (each an audit entry), and the site summary."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.inventory import URL_TEMPLATES, CameraConfig, FundingConfig, with_credentials
from storage.credentials import CredentialCipher
from storage.errors import Conflict, InvalidInput
from storage.models import Camera, Recorder, Site, utcnow
from storage.repo.cameras import _CAMERA_FACTS, _apply_camera, _audit_change, _facts

# Retirement is audited too (the date and the reason), beside what an administrator edits.
_ADMIN_FACTS = _CAMERA_FACTS + ("retired_at", "retired_reason")
FUNDING_SOURCES = ("state_budget", "community", "donor")


class CameraInputError(InvalidInput):
    """The camera cannot be saved as given (unknown recorder, a recorder whose URL paths are not known…)."""


@dataclass(frozen=True)
class StreamTarget:
    """Where a camera's streams are, with the credentials kept apart (URLs carry none)."""

    main_url: str
    sub_url: str | None
    username: str
    password: str

    def main_with_credentials(self) -> str:
        """For handing to the probe only, never for a log or an answer."""
        return with_credentials(self.main_url, self.username, self.password)

    def sub_with_credentials(self) -> str | None:
        return with_credentials(self.sub_url, self.username, self.password) if self.sub_url else None


@dataclass(frozen=True)
class SiteSummary:
    site_name: str
    active: int
    disabled: int
    retired: int
    online: int
    cameras_vnd: int
    recorders_vnd: int
    by_source: dict[str, int] = field(default_factory=dict)  # VND per funding source, cameras and recorders

    @property
    def total_vnd(self) -> int:
        return self.cameras_vnd + self.recorders_vnd


def list_recorders(*, session: Session) -> list[Recorder]:
    return list(session.scalars(select(Recorder).order_by(Recorder.code)))


def camera_config(*, session: Session, cam: Camera, cipher: CredentialCipher) -> CameraConfig:
    """The stored camera as the inventory schema describes it (so an edit goes through the same validation)."""
    recorder = session.get(Recorder, cam.recorder_id) if cam.recorder_id is not None else None
    return CameraConfig(
        code=cam.code, name=cam.name, village=cam.village, address=cam.address, latitude=cam.latitude,
        longitude=cam.longitude, view=cam.view,
        main_url=None if recorder else cam.main_url, sub_url=None if recorder else cam.sub_url,
        recorder=recorder.code if recorder else None, channel=cam.channel if recorder else None,
        username=cam.username, password=SecretStr(cipher.decrypt(cam.password_encrypted)), enabled=cam.enabled,
        retention_days=cam.retention_days,
        funding=FundingConfig(source=cam.funding_source,  # type: ignore[arg-type]
                              donor=cam.donor, amount_vnd=cam.amount_vnd, date=cam.funded_on),
        installed_on=cam.installed_on, installer=cam.installer, detection=cam.detection or {},
    )


def _recorder(session: Session, code: str) -> Recorder:
    recorder = session.scalars(select(Recorder).where(Recorder.code == code)).first()
    if recorder is None:
        raise CameraInputError(f"no recorder {code!r}: choose one of the site's recorders", key="err_no_recorder",
                               code=code)
    return recorder


def resolve_stream(*, session: Session, config: CameraConfig, cipher: CredentialCipher) -> StreamTarget:
    """The URLs and login a camera will be opened with: its own, or its recorder channel's (whose login it uses
    when it has none of its own)."""
    password = config.password.get_secret_value()
    if not config.recorder:
        assert config.main_url  # CameraConfig requires main_url or recorder
        return StreamTarget(config.main_url, config.sub_url, config.username, password)
    recorder = _recorder(session, config.recorder)
    assert config.channel is not None
    if not 1 <= config.channel <= recorder.channels:
        raise CameraInputError(f"recorder {recorder.code} has channels 1..{recorder.channels}, not {config.channel}",
                               key="err_recorder_channel", recorder=recorder.code, channels=recorder.channels,
                               channel=config.channel)
    if recorder.vendor not in URL_TEMPLATES:
        raise CameraInputError(f"recorder {recorder.code} is a generic recorder whose URL paths are not known here: "
                               "give the camera's main and sub stream URLs instead", key="err_recorder_generic",
                               recorder=recorder.code)  # fmt: skip
    main, sub = URL_TEMPLATES[recorder.vendor]
    base = f"rtsp://{recorder.host}:{recorder.port}"
    if config.username:
        username = config.username
    else:
        username, password = recorder.username, cipher.decrypt(recorder.password_encrypted)
    return StreamTarget(base + main.format(ch=config.channel), base + sub.format(ch=config.channel), username,
                        password)


def _apply(session: Session, cam: Camera, config: CameraConfig, *, site_id: int, cipher: CredentialCipher) -> None:
    _apply_camera(cam, config, site_id=site_id, cipher=cipher)
    if config.recorder:
        target = resolve_stream(session=session, config=config, cipher=cipher)
        cam.recorder_id, cam.channel = _recorder(session, config.recorder).id, config.channel
        cam.main_url, cam.sub_url = target.main_url, target.sub_url
        cam.username, cam.password_encrypted = target.username, cipher.encrypt(target.password)


def create_camera(*, session: Session, config: CameraConfig, cipher: CredentialCipher, actor: str,
                  note: dict[str, object] | None = None) -> Camera:
    """Register a camera on the site; `note` goes into the audit entry (e.g. why it was saved without a probe)."""
    if session.scalars(select(Camera.id).where(Camera.code == config.code)).first() is not None:
        raise Conflict(f"a camera with code {config.code!r} exists already (codes stay unique, retired ones too)",
                       key="err_camera_code_taken", code=config.code)
    site = session.scalars(select(Site).order_by(Site.id)).first()
    if site is None:
        raise Conflict("no site yet: run `matthan init` with an inventory that names the commune first",
                       key="err_no_site")
    cam = Camera(code=config.code)
    _apply(session, cam, config, site_id=site.id, cipher=cipher)
    session.add(cam)
    session.flush()
    after = _facts(cam, _ADMIN_FACTS, cipher)
    _audit_change(session, kind="camera", code=cam.code, before=None, after={**after, **(note or {})}, actor=actor)
    return cam


def _refuse_retired(cam: Camera) -> None:
    if cam.retired_at is not None:
        raise Conflict(f"camera {cam.code} was retired on {cam.retired_at:%Y-%m-%d}; a retired camera stays as it "
                       "was (register the replacement as a new camera)", key="err_camera_retired", code=cam.code)


def update_camera(*, session: Session, cam: Camera, config: CameraConfig, cipher: CredentialCipher, actor: str,
                  note: dict[str, object] | None = None) -> Camera:
    """Change a camera's description, streams, credentials or funding; the code stays."""
    _refuse_retired(cam)
    if config.code != cam.code:
        raise CameraInputError("a camera's code cannot change (footage and events are filed under it)",
                               key="err_code_fixed")
    before = _facts(cam, _ADMIN_FACTS, cipher)
    health = (cam.status, cam.status_detail)
    _apply(session, cam, config, site_id=cam.site_id, cipher=cipher)
    cam.status, cam.status_detail = health
    session.flush()
    after = _facts(cam, _ADMIN_FACTS, cipher)
    _audit_change(session, kind="camera", code=cam.code, before={**before, **{k: None for k in note or {}}},
                  after={**after, **(note or {})}, actor=actor)
    return cam


def set_camera_enabled(*, session: Session, cam: Camera, enabled: bool, cipher: CredentialCipher,
                       actor: str) -> Camera:
    """Disable (recording stops within the worker's refresh; footage is kept) or enable again."""
    _refuse_retired(cam)
    if cam.enabled == enabled:
        return cam
    before = _facts(cam, _ADMIN_FACTS, cipher)
    cam.enabled = enabled
    _audit_change(session, kind="camera", code=cam.code, before=before, after=_facts(cam, _ADMIN_FACTS, cipher),
                  actor=actor, action="enable" if enabled else "disable")
    return cam


def retire_camera(*, session: Session, cam: Camera, reason: str, cipher: CredentialCipher, actor: str) -> Camera:
    """Take a camera permanently out of service: it stops recording, leaves the live wall, and stays (with its
    footage, events and evidence) for history."""
    _refuse_retired(cam)
    before = _facts(cam, _ADMIN_FACTS, cipher)
    cam.enabled, cam.retired_at, cam.retired_reason = False, utcnow(), reason
    _audit_change(session, kind="camera", code=cam.code, before=before, after=_facts(cam, _ADMIN_FACTS, cipher),
                  actor=actor, action="retire")
    return cam


def site_summary(*, session: Session) -> SiteSummary:
    site = session.scalars(select(Site).order_by(Site.id)).first()
    cameras = list(session.scalars(select(Camera)))
    active = [c for c in cameras if c.enabled and c.retired_at is None]
    by_source: dict[str, int] = {source: 0 for source in FUNDING_SOURCES}
    for source, amount in session.execute(select(Camera.funding_source, func.sum(Camera.amount_vnd))
                                          .group_by(Camera.funding_source)):
        by_source[source] = by_source.get(source, 0) + int(amount or 0)
    for source, amount in session.execute(select(Recorder.funding_source, func.sum(Recorder.amount_vnd))
                                          .group_by(Recorder.funding_source)):
        by_source[source] = by_source.get(source, 0) + int(amount or 0)
    recorders_vnd = int(session.scalar(select(func.coalesce(func.sum(Recorder.amount_vnd), 0))) or 0)
    return SiteSummary(
        site_name=site.name if site else "",
        active=len(active),
        disabled=sum(1 for c in cameras if not c.enabled and c.retired_at is None),
        retired=sum(1 for c in cameras if c.retired_at is not None),
        online=sum(1 for c in active if c.status == "online"),
        cameras_vnd=sum(c.amount_vnd for c in cameras),
        recorders_vnd=recorders_vnd,
        by_source=by_source,
    )
