"""Camera administration shared by the pages and the API: test the connection, then save — refused when the test
fails, unless the administrator says "save anyway", and then the camera is saved disabled, never silently."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pydantic
from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings
from config.inventory import CameraConfig
from ingest.errors import SourceError
from ingest.probe import ProbeResult, problem_code, probe_stream
from review_ui.deps import describe_errors
from storage.credentials import CredentialCipher
from storage.db import end_transaction
from storage.errors import Conflict
from storage.models import Camera, Recorder
from storage.repo.camera_admin import (
    CameraInputError, StreamTarget, camera_config, create_camera, resolve_stream, set_camera_enabled, update_camera,
)
from storage.repo.cameras import get_camera

FUNDING_FIELDS = {"funding_source": "source", "donor": "donor", "amount_vnd": "amount_vnd", "funded_on": "date"}
STREAM_FIELDS = ("main_url", "sub_url", "recorder", "channel", "username", "password")


@dataclass(frozen=True)
class ProbeOutcome:
    """A connection test: the main stream's figures and picture, or which problem the main or sub stream has."""

    result: ProbeResult | None
    error: SourceError | None = None
    sub_error: SourceError | None = None
    sub_tested: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and self.sub_error is None

    @property
    def problem(self) -> str | None:
        failed = self.error or self.sub_error
        return problem_code(failed) if failed is not None else None

    @property
    def message(self) -> str | None:
        if self.error is not None:
            return str(self.error)
        return f"sub stream: {self.sub_error}" if self.sub_error is not None else None

    @property
    def snapshot_base64(self) -> str | None:
        return base64.b64encode(self.result.snapshot_jpeg).decode() if self.result and self.result.snapshot_jpeg \
            else None


class ProbeRefused(Exception):
    """The connection test failed and the administrator did not ask to save anyway."""

    def __init__(self, outcome: ProbeOutcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


def cipher_of(settings: Settings) -> CredentialCipher:
    return CredentialCipher(settings.security.credentials_key.get_secret_value())


def probe(settings: Settings, target: StreamTarget) -> ProbeOutcome:
    """Blocking: call from a worker thread (the sync routes run in one)."""
    options = {"timeout_s": settings.ingest.connect_timeout_s, "rtsp_transport": settings.ingest.rtsp_transport}
    try:
        result = probe_stream(target.main_with_credentials(), **options)  # type: ignore[arg-type]
    except SourceError as exc:
        return ProbeOutcome(None, error=exc)
    sub = target.sub_with_credentials()
    if sub is None:
        return ProbeOutcome(result)
    try:
        probe_stream(sub, snapshot=False, **options)  # type: ignore[arg-type]
    except SourceError as exc:
        return ProbeOutcome(result, sub_error=exc, sub_tested=True)
    return ProbeOutcome(result, sub_tested=True)


def flat_values(config: CameraConfig) -> dict[str, Any]:
    """A CameraConfig as the flat fields of the form and the API (funding spread out, the password in clear)."""
    values = config.model_dump(exclude={"funding", "password"})
    values["password"] = config.password.get_secret_value()
    for flat, nested in FUNDING_FIELDS.items():
        values[flat] = getattr(config.funding, nested)
    return values


def to_config(values: dict[str, Any]) -> CameraConfig:
    """Flat fields → CameraConfig, with the inventory's own checks (an RTSP URL without credentials in it, either a
    URL or a recorder + channel…). Refusals are 422s that never echo the input (it may hold a password)."""
    nested = {k: v for k, v in values.items() if k not in FUNDING_FIELDS and k != "save_unverified"}
    nested["funding"] = {FUNDING_FIELDS[k]: v for k, v in values.items() if k in FUNDING_FIELDS}
    if nested.get("password") is None:
        nested["password"] = ""
    try:
        return CameraConfig.model_validate(nested)
    except pydantic.ValidationError as exc:
        raise CameraInputError(describe_errors(exc.errors())[0]) from None


def probe_values(*, session: Session, settings: Settings, values: dict[str, Any], camera: str | None
                 ) -> ProbeOutcome:
    """Test the stream fields given; for an existing camera, what is not given (the password) is the stored one."""
    base: dict[str, Any] = {"code": "probe", "name": "probe"}
    if camera is not None:
        base = flat_values(camera_config(session=session, cam=get_camera(session=session, code=camera),
                                         cipher=cipher_of(settings)))
        if values.get("password") is None:
            values = {k: v for k, v in values.items() if k != "password"}
    fields = {**base, **_source_switch(values)}
    config = to_config({k: v for k, v in fields.items() if k in STREAM_FIELDS or k in ("code", "name")})
    return _probe_config(session, settings, config, cipher_of(settings))


def _probe_config(session: Session, settings: Settings, config: CameraConfig, cipher: CredentialCipher
                  ) -> ProbeOutcome:
    """The connection test of `config`, with no transaction open while it waits on the camera (seconds)."""
    target = resolve_stream(session=session, config=config, cipher=cipher)
    end_transaction(session)
    return probe(settings, target)


def _source_switch(values: dict[str, Any]) -> dict[str, Any]:
    """Giving a URL drops the recorder channel and the other way round (the inventory takes one or the other)."""
    values = dict(values)
    if values.get("main_url"):
        values.setdefault("recorder", None)
        values.setdefault("channel", None)
    elif values.get("recorder"):
        values.setdefault("main_url", None)
        values.setdefault("sub_url", None)
    return values


def register(*, session: Session, settings: Settings, values: dict[str, Any], actor: str, save_unverified: bool
             ) -> tuple[Camera, ProbeOutcome]:
    cipher = cipher_of(settings)
    config = to_config({**values, "enabled": True})
    if session.scalars(select(Camera.id).where(Camera.code == config.code)).first() is not None:
        raise Conflict(f"a camera with code {config.code!r} exists already (codes stay unique, retired ones too)",
                       key="err_camera_code_taken", code=config.code)
    outcome = _probe_config(session, settings, config, cipher)
    note = None
    if not outcome.ok:
        if not save_unverified:
            raise ProbeRefused(outcome)
        config = config.model_copy(update={"enabled": False})
        note = {"saved_unverified": f"{outcome.problem}: {outcome.message}"}
    return create_camera(session=session, config=config, cipher=cipher, actor=actor, note=note), outcome


def edit(*, session: Session, settings: Settings, cam: Camera, changes: dict[str, Any], actor: str,
         save_unverified: bool) -> ProbeOutcome | None:
    """Apply `changes` (flat fields; a missing or None password keeps the stored one; `enabled` disables or enables).
    A change to the stream or login is tested first. Returns the test, when there was one."""
    cipher = cipher_of(settings)
    if cam.retired_at is not None:
        raise Conflict(f"camera {cam.code} was retired on {cam.retired_at:%Y-%m-%d}; a retired camera stays as it was",
                       key="err_camera_retired", code=cam.code)
    changes = dict(changes)
    enabled = changes.pop("enabled", None)
    if changes.get("password") is None:
        changes.pop("password", None)
    current = flat_values(camera_config(session=session, cam=cam, cipher=cipher))
    config = to_config({**current, **_source_switch(changes)})
    outcome, note = None, None
    if any(flat_values(config)[k] != current[k] for k in STREAM_FIELDS):
        outcome = _probe_config(session, settings, config, cipher)
        if not outcome.ok:
            if not save_unverified:
                raise ProbeRefused(outcome)
            enabled, note = False, {"saved_unverified": f"{outcome.problem}: {outcome.message}"}
    update_camera(session=session, cam=cam, config=config, cipher=cipher, actor=actor, note=note)
    if enabled is not None:
        set_camera_enabled(session=session, cam=cam, enabled=enabled, cipher=cipher, actor=actor)
    return outcome


def recorder_code(session: Session, cam: Camera) -> str | None:
    recorder = session.get(Recorder, cam.recorder_id) if cam.recorder_id is not None else None
    return recorder.code if recorder else None
