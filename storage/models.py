"""SQLAlchemy 2 table models. Every timestamp is UTC (timezone-aware in Python, naive UTC in SQLite)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy import UniqueConstraint, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores UTC; always hands back aware UTC datetimes, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSON}


class Site(Base):
    __tablename__ = "site"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="commune")
    province: Mapped[str] = mapped_column(String(200), default="")


class Recorder(Base):
    __tablename__ = "recorder"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    code: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    vendor: Mapped[str] = mapped_column(String(20), default="generic")
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer, default=554)
    channels: Mapped[int] = mapped_column(Integer, default=4)
    username: Mapped[str] = mapped_column(String(100), default="")
    password_encrypted: Mapped[str] = mapped_column(Text, default="")
    funding_source: Mapped[str] = mapped_column(String(20), default="community")
    donor: Mapped[str] = mapped_column(String(200), default="")
    amount_vnd: Mapped[int] = mapped_column(BigInteger, default=0)


class Camera(Base):
    __tablename__ = "camera"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    recorder_id: Mapped[int | None] = mapped_column(ForeignKey("recorder.id"))
    channel: Mapped[int | None] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    village: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    view: Mapped[str] = mapped_column(String(500), default="")
    # URLs are kept without credentials; username + encrypted password are joined only when opening the stream.
    main_url: Mapped[str] = mapped_column(String(1000))
    sub_url: Mapped[str | None] = mapped_column(String(1000))
    username: Mapped[str] = mapped_column(String(100), default="")
    password_encrypted: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    retention_days: Mapped[int] = mapped_column(Integer, default=30)
    funding_source: Mapped[str] = mapped_column(String(20), default="community")
    donor: Mapped[str] = mapped_column(String(200), default="")
    amount_vnd: Mapped[int] = mapped_column(BigInteger, default=0)
    funded_on: Mapped[dt.date | None]
    installed_on: Mapped[dt.date | None]
    installer: Mapped[str] = mapped_column(String(200), default="")
    # Permanently out of service (also disabled): kept with its footage for history and evidence, never recorded
    # again, hidden from the live wall. Disabling alone is reversible.
    retired_at: Mapped[dt.datetime | None]
    retired_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Health, written by ingest.
    status: Mapped[str] = mapped_column(String(30), default="unknown")
    status_detail: Mapped[str] = mapped_column(Text, default="")
    status_since: Mapped[dt.datetime | None]
    last_segment_at: Mapped[dt.datetime | None]
    last_frame_at: Mapped[dt.datetime | None]
    # masks, zones and sensitivity (config.inventory.CameraDetectionConfig as JSON)
    detection: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    fps: Mapped[float | None] = mapped_column(Float)
    bitrate_kbps: Mapped[float | None] = mapped_column(Float)

    site: Mapped[Site] = relationship()


class Segment(Base):
    __tablename__ = "segment"
    __table_args__ = (
        UniqueConstraint("camera_id", "start_at", name="uq_segment_camera_start"),
        Index("ix_segment_camera_time", "camera_id", "start_at", "end_at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("camera.id"))
    start_at: Mapped[dt.datetime]
    end_at: Mapped[dt.datetime]
    object_key: Mapped[str] = mapped_column(String(500), unique=True)
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Event(Base):
    __tablename__ = "event"
    __table_args__ = (Index("ix_event_camera_time", "camera_id", "start_at"), Index("ix_event_start", "start_at"),
                      Index("ix_event_camera_kind_time", "camera_id", "kind", "start_at"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("camera.id"))
    kind: Mapped[str] = mapped_column(String(30), default="motion")
    start_at: Mapped[dt.datetime]
    end_at: Mapped[dt.datetime | None]
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    boxes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    snapshot_key: Mapped[str | None] = mapped_column(String(500))
    clip_key: Mapped[str | None] = mapped_column(String(500))
    clip_start_at: Mapped[dt.datetime | None]
    clip_end_at: Mapped[dt.datetime | None]
    clip_sha256: Mapped[str | None] = mapped_column(String(64))
    clip_status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | ready | failed
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False)
    detail: Mapped[str] = mapped_column(Text, default="", server_default="")  # e.g. why a camera was offline
    label_scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")  # best per label
    zones: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")  # zones entered
    # last moment with motion while the event is open: a restarted detector resumes the event instead of
    # starting a duplicate
    last_seen_at: Mapped[dt.datetime | None]
    # someone looked at it and marked it reviewed (any role): the officer's "dealt with", not evidence
    reviewed_at: Mapped[dt.datetime | None]
    reviewed_by: Mapped[str | None] = mapped_column(String(100))

    camera: Mapped[Camera] = relationship()


class User(Base):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))  # admin | duty | investigator
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # sessions that logged in before this are no longer valid (set when the password changes)
    password_changed_at: Mapped[dt.datetime | None]


class ApiToken(Base):
    """A token for scripts: sent as `Authorization: Bearer mt_…`, it acts as its user with the user's role. Only its
    SHA-256 is kept; the token itself is shown once, when it is made."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, so a listed token can be recognised
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()


class LoginFailure(Base):
    """A failed log-in, kept for throttling (storage.repo.users.login_blocked_for); old rows are pruned at log-in."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_user_time", "username", "at"),
                      Index("ix_login_failure_address_time", "address", "at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Case(Base):
    __tablename__ = "case_file"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime | None]

    evidence: Mapped[list[Evidence]] = relationship(back_populates="case", order_by="Evidence.id")
    created_by: Mapped[User] = relationship()
    assigned: Mapped[list[User]] = relationship(secondary="case_assignment", order_by="User.username")


class CaseAssignment(Base):
    """The investigators a case is assigned to."""

    __tablename__ = "case_assignment"
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True, index=True)


class Evidence(Base):
    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("case_id", "event_id", name="uq_evidence_case_event"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"))
    object_key: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text, default="")
    tagged_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    tagged_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="evidence")
    event: Mapped[Event] = relationship()
    tagged_by: Mapped[User] = relationship()


class HoldSync(Base):
    """An object whose legal hold in the object store may not match the database's yet (storage.repo.holds). Queued
    in the transaction that changes the hold; deleted once the store has the database's answer."""

    __tablename__ = "hold_sync"
    object_key: Mapped[str] = mapped_column(String(500), primary_key=True)
    queued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")


class AuditEntry(Base):
    """Append-only log; each row's hash covers its content and the previous row's hash."""

    __tablename__ = "audit_entry"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    subject: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class IngestNode(Base):
    """A worker process that records cameras; alive while its heartbeat is younger than one lease period."""

    __tablename__ = "ingest_node"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CameraLease(Base):
    """Which node records a camera. Renewed by its node's heartbeat; once expired, another node may take it, and
    every taking raises `token` by one: writes carry the token they were granted (fencing), so a node that lost a
    camera without knowing it cannot write for it any more."""

    __tablename__ = "camera_lease"
    camera_id: Mapped[int] = mapped_column(ForeignKey("camera.id"), primary_key=True)
    node: Mapped[str] = mapped_column(String(100), index=True)
    token: Mapped[int] = mapped_column(BigInteger)
    acquired_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]


class HealthAlert(Base):
    """A node-level problem (spool over quota, disk full, store down) raised until resolved."""

    __tablename__ = "health_alert"
    __table_args__ = (Index("ix_health_alert_open", "code", "node", "resolved_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50))  # spool_quota | disk_full | store_unavailable
    level: Mapped[str] = mapped_column(String(20))  # warning | critical
    node: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None]
