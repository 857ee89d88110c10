"""Settings: one pydantic model per section, read from a YAML file and overridden by MATTHAN_* environment variables."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

# Values people copy from examples and forget to change; refused for secrets.
PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "changethis", "secret", "password", "admin", "minioadmin"})


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(_Section):
    url: str = Field(
        default="sqlite:///data/matthan.db",
        description="SQLAlchemy URL: sqlite:///path (embedded default) or postgresql+psycopg://user:pw@host/db",
    )
    connect_timeout_s: float = Field(default=30.0, ge=0, le=600, description="How long start-up waits for the DB")


class ObjectStoreConfig(_Section):
    backend: Literal["local", "s3"] = Field(default="local", description="local directory or an S3/MinIO bucket")
    path: Path = Field(default=Path("data/objects"), description="Root directory of the local backend")
    endpoint: str = Field(default="127.0.0.1:9000", description="S3 endpoint host:port (s3 backend)")
    bucket: str = Field(default="matthan", min_length=3, max_length=63, description="Bucket name (s3 backend)")
    access_key: str = Field(default="", description="S3 access key (s3 backend)")
    secret_key: SecretStr = Field(default=SecretStr(""), description="S3 secret key (s3 backend)")
    secure: bool = Field(default=True, description="Use HTTPS to reach the S3 endpoint")
    region: str | None = Field(default=None, description="S3 region, if the server needs one")


class IngestConfig(_Section):
    spool_dir: Path = Field(default=Path("data/spool"), description="Local disk where segments wait for upload")
    segment_seconds: int = Field(default=60, ge=2, le=3600, description="Length of one recorded segment")
    ffmpeg: str = Field(default="ffmpeg", description="ffmpeg executable")
    ffprobe: str = Field(default="ffprobe", description="ffprobe executable")
    rtsp_transport: Literal["tcp", "udp"] = Field(default="tcp", description="RTSP transport to cameras")
    connect_timeout_s: float = Field(default=10.0, gt=0, le=120, description="Give up connecting after this long")
    restart_backoff_s: float = Field(default=2.0, gt=0, le=60, description="First wait before restarting a source")
    restart_backoff_max_s: float = Field(
        default=5.0, gt=0, le=3600,
        description="Longest wait between restarts; short, so a camera records again within seconds of its return",
    )
    upload_interval_s: float = Field(default=1.0, gt=0, le=60, description="How often the uploader scans the spool")
    upload_backoff_max_s: float = Field(default=30.0, gt=0, le=3600, description="Longest wait while the store is down")
    spool_quota_gb: float = Field(
        default=50.0, gt=0, le=100_000,
        description="Spool size that raises a critical alert; nothing unuploaded is ever deleted to stay under it",
    )
    storage_quota_gb: float | None = Field(
        default=None, gt=0, le=10_000_000,
        description="Global object-store quota for segments; oldest unheld segments are pruned to stay under it",
    )
    retention_interval_s: float = Field(default=600.0, ge=1, le=86_400, description="How often retention runs")
    health_interval_s: float = Field(
        default=10.0, ge=0.5, le=600, description="How often fps/bitrate/last-frame figures are saved"
    )
    lease_seconds: float = Field(
        default=30.0, ge=6, le=3600,
        description="Several workers sharing cameras: a dead worker's cameras record again on the others within this "
                    "long. Leases are granted for half of it and renewed every sixth; the others look every sixth",
    )
    camera_refresh_seconds: float = Field(
        default=5.0, ge=0.5, le=3600,
        description="How often the worker re-reads the camera list: cameras added, changed, disabled or retired "
                    "in the database start or stop recording without a restart",
    )


class DetectConfig(_Section):
    fps: float = Field(default=5.0, gt=0, le=30, description="Frames per second handed to detection")
    frame_width: int = Field(default=160, ge=64, le=1920, description="Width of the grey frame motion runs on")
    pixel_threshold: int = Field(default=25, ge=1, le=255, description="Grey-level change that counts as motion")
    min_area: float = Field(default=0.002, gt=0, le=1, description="Smallest changed fraction of the frame")
    start_frames: int = Field(default=2, ge=1, le=50, description="Frames in a row with motion to start an event")
    end_seconds: float = Field(default=2.0, ge=0, le=120, description="Seconds without motion that end an event")
    max_event_seconds: float = Field(default=300.0, ge=10, le=3600, description="Longer events are split")
    pre_roll_s: float = Field(default=5.0, ge=0, le=60, description="Clip starts this long before the event")
    post_roll_s: float = Field(default=5.0, ge=0, le=60, description="Clip ends this long after the event")
    clip_wait_s: float = Field(default=300.0, ge=1, le=7200, description="Give up waiting for clip segments after")
    recalibrate_area: float = Field(
        default=0.5, gt=0, le=1,
        description="When this fraction of the frame changes at once (lights, day/night IR switch), relearn the "
                    "background instead of raising an event",
    )
    model_path: Path = Field(
        default=Path("data/models/yolo11n.pt"),
        description="Ultralytics YOLO weights; without them motion events go on and the UI warns",
    )
    imgsz: int = Field(default=320, ge=64, le=1920, description="Image size the object model runs at")
    object_mode: Literal["regions", "frame"] = Field(
        default="regions", description="Run the object model on motion regions only, or on the whole frame"
    )
    min_scores: dict[str, float] = Field(
        default={"motorbike": 0.4, "car": 0.4, "bus": 0.4, "truck": 0.4, "bicycle": 0.4, "person": 0.4},
        description="Lowest score that counts, per label",
    )
    tamper_seconds: float = Field(
        default=5.0, ge=1, le=600, description="A covered, blurred or turned view must last this long to be tamper"
    )
    tamper_sharpness: float = Field(
        default=0.35, gt=0, lt=1,
        description="Tamper when the view's edge strength falls below this fraction of its learnt normal",
    )


class WebConfig(_Section):
    host: str = Field(default="127.0.0.1", description="Address the review UI listens on")
    port: int = Field(default=8000, ge=0, le=65535, description="Port of the review UI (0 = any free port)")
    secret_key: SecretStr = Field(default=SecretStr(""), description="Signs session cookies; at least 32 characters")
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30, description="How long a login lasts")
    default_language: Literal["vi", "en"] = Field(default="vi", description="UI language for new visitors")
    timezone: str = Field(default="Asia/Ho_Chi_Minh", description="Time zone for people")
    secure_cookies: bool = Field(default=False, description="Mark cookies Secure (set true behind HTTPS)")


class AlertsConfig(_Section):
    offline_after_minutes: float = Field(
        default=5.0, gt=0, le=7 * 24 * 60,
        description="A camera not recording for longer than this raises an alert (page banner, health page, webhook)",
    )
    webhook_url: str | None = Field(
        default=None, pattern=r"^https?://\S+$", max_length=2000,
        description="Optional: each alert raised or resolved is POSTed here as JSON (e.g. a chat bot or SMS gateway)",
    )
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=120, description="Give up one webhook call after this")


class SecurityConfig(_Section):
    credentials_key: SecretStr = Field(
        default=SecretStr(""), description="Fernet key that encrypts camera passwords at rest (matthan genkey)"
    )


class Settings(BaseSettings):
    """The whole configuration. Build once (load_settings) and pass explicitly."""

    model_config = SettingsConfigDict(
        env_prefix="MATTHAN_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    data_dir: Path = Field(default=Path("data"), description="Where the embedded default keeps its files")
    node_name: str = Field(
        default_factory=socket.gethostname, min_length=1, max_length=100,
        description="This worker's name in camera leases; unique per worker (MATTHAN_NODE_NAME; Kubernetes: the pod)",
    )
    inventory: Path | None = Field(default=None, description="Camera inventory YAML imported at start-up")
    database: DatabaseConfig = DatabaseConfig()
    objectstore: ObjectStoreConfig = ObjectStoreConfig()
    ingest: IngestConfig = IngestConfig()
    detect: DetectConfig = DetectConfig()
    web: WebConfig = WebConfig()
    alerts: AlertsConfig = AlertsConfig()
    security: SecurityConfig = SecurityConfig()

    @field_validator("web")
    @classmethod
    def _web_secret(cls, web: WebConfig) -> WebConfig:
        key = web.secret_key.get_secret_value()
        if key.lower() in PLACEHOLDER_SECRETS or len(key) < 32:
            raise ValueError(
                "web.secret_key must be a random string of at least 32 characters "
                "(set MATTHAN_WEB__SECRET_KEY, e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        return web

    @field_validator("security")
    @classmethod
    def _credentials_key(cls, security: SecurityConfig) -> SecurityConfig:
        key = security.credentials_key.get_secret_value()
        if len(key) != 44:
            raise ValueError(
                "security.credentials_key must be a Fernet key (44 characters); create one with `matthan genkey` "
                "and set MATTHAN_SECURITY__CREDENTIALS_KEY"
            )
        return security

    @model_validator(mode="after")
    def _s3_credentials(self) -> Settings:
        store = self.objectstore
        if store.backend == "s3" and (
            not store.access_key or store.secret_key.get_secret_value().lower() in PLACEHOLDER_SECRETS
        ):
            raise ValueError("objectstore: the s3 backend needs access_key and a real secret_key (not a placeholder)")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the YAML file (passed as init values), so a deployment can override any one field.
        return env_settings, init_settings


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read the YAML file (if any), apply keyword overrides, then MATTHAN_* variables. Raises ConfigError."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError(f"cannot read settings file {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"settings file {path} is not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"settings file {path} must hold a mapping of sections")
        values = loaded
    values = _deep_merge(values, overrides)
    try:
        return Settings(**values)
    except ValueError as exc:
        raise ConfigError(f"invalid settings{f' in {path}' if path else ''}:\n{exc}") from exc


class ConfigError(Exception):
    """The configuration cannot be used; the message says what to change."""
