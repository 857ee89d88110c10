"""Request and response models of camera administration (the JSON API). Passwords go in, never out."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from review_ui.schemas import _Out
from storage.models import Camera
from storage.repo.camera_admin import SiteSummary

CODE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"  # config.inventory.CODE_PATTERN
CameraCode = Annotated[str, Field(pattern=CODE_PATTERN, max_length=63, description="Short id, e.g. cam-14")]
Url = Annotated[str, Field(min_length=1, max_length=1000, description="The RTSP address (scheme rtsp, host, port, path), without credentials")]
FundingSource = Literal["state_budget", "community", "donor"]


class _CameraIn(BaseModel):
    # Not strict (unlike the other inputs): dates come as "2026-11-30" strings in JSON.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class StreamFields(_CameraIn):
    """Where the video is: main_url (+ sub_url), or a recorder (NVR) and its channel."""

    main_url: Url | None = None
    sub_url: Url | None = None
    recorder: Annotated[str | None, Field(pattern=CODE_PATTERN, max_length=63, description="Recorder code")] = None
    channel: Annotated[int | None, Field(ge=1, le=256)] = None
    username: Annotated[str, Field(max_length=100)] = ""
    password: Annotated[str | None, Field(max_length=200, description="Stored encrypted; never shown back")] = None


class ProbeIn(StreamFields):
    camera: CameraCode | None = Field(default=None, description="An existing camera: its stored password is used "
                                                                "when no password is given")


class DescriptionFields(_CameraIn):
    name: Annotated[str, Field(min_length=1, max_length=200, description="e.g. Cổng trường tiểu học")]
    village: Annotated[str, Field(max_length=200, description="thôn / tổ dân phố")] = ""
    address: Annotated[str, Field(max_length=500)] = ""
    latitude: Annotated[float | None, Field(ge=-90, le=90)] = None
    longitude: Annotated[float | None, Field(ge=-180, le=180)] = None
    view: Annotated[str, Field(max_length=500, description="What the camera looks at")] = ""
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    funding_source: FundingSource = Field(default="community",
                                          description="state_budget (ngân sách) | community (xã hội hóa) | donor")
    donor: Annotated[str, Field(max_length=200)] = ""
    amount_vnd: Annotated[int, Field(ge=0, le=10**13, description="Whole đồng")] = 0
    funded_on: dt.date | None = None
    installed_on: dt.date | None = None
    installer: Annotated[str, Field(max_length=200)] = ""


class CameraCreateIn(StreamFields, DescriptionFields):
    code: CameraCode
    save_unverified: bool = Field(default=False, description="Save even though the connection test fails (e.g. not "
                                                             "installed yet): the camera is then saved DISABLED")


class CameraUpdateIn(_CameraIn):
    """Only the fields given change. A change to the stream or login is tested first, as at registration."""

    name: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    village: Annotated[str | None, Field(max_length=200)] = None
    address: Annotated[str | None, Field(max_length=500)] = None
    latitude: Annotated[float | None, Field(ge=-90, le=90)] = None
    longitude: Annotated[float | None, Field(ge=-180, le=180)] = None
    view: Annotated[str | None, Field(max_length=500)] = None
    main_url: Url | None = None
    sub_url: Url | None = None
    recorder: Annotated[str | None, Field(pattern=CODE_PATTERN, max_length=63)] = None
    channel: Annotated[int | None, Field(ge=1, le=256)] = None
    username: Annotated[str | None, Field(max_length=100)] = None
    password: Annotated[str | None, Field(max_length=200)] = None
    retention_days: Annotated[int | None, Field(ge=1, le=3650)] = None
    funding_source: FundingSource | None = None
    donor: Annotated[str | None, Field(max_length=200)] = None
    amount_vnd: Annotated[int | None, Field(ge=0, le=10**13)] = None
    funded_on: dt.date | None = None
    installed_on: dt.date | None = None
    installer: Annotated[str | None, Field(max_length=200)] = None
    enabled: bool | None = Field(default=None, description="false: disable (stops recording, keeps the footage)")
    save_unverified: bool = Field(default=False, description="Save a stream change whose test fails; the camera is "
                                                             "then disabled")


class RetireIn(_CameraIn):
    reason: Annotated[str, Field(max_length=2000, description="Why it is taken out of service")] = ""


class ProbeOut(BaseModel):
    ok: bool
    problem: Literal["unreachable", "unauthorized", "not_found", "no_video"] | None = Field(
        default=None, description="Which problem, when not ok")
    message: str | None = Field(default=None, description="What is wrong and what to do (no password in it)")
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    snapshot_jpeg_base64: str | None = Field(default=None, description="One picture from the main stream")
    sub_ok: bool | None = Field(default=None, description="The sub stream answered (null: none given)")


class CameraAdminOut(_Out):
    code: str
    name: str
    village: str
    address: str
    latitude: float | None
    longitude: float | None
    view: str
    main_url: str
    sub_url: str | None
    recorder: str | None
    channel: int | None
    username: str
    has_password: bool
    enabled: bool
    retired_at: dt.datetime | None = Field(description="UTC; retired cameras never record again")
    retired_reason: str
    retention_days: int
    funding_source: str
    donor: str
    amount_vnd: int
    funded_on: dt.date | None
    installed_on: dt.date | None
    installer: str
    status: str
    status_detail: str

    @classmethod
    def from_camera(cls, cam: Camera, recorder_code: str | None) -> CameraAdminOut:
        fields = {name: getattr(cam, name) for name in cls.model_fields if hasattr(cam, name)}
        return cls(**{**fields, "recorder": recorder_code, "has_password": bool(cam.password_encrypted)})


class SummaryOut(BaseModel):
    site: str
    active: int
    disabled: int
    retired: int
    online: int = Field(description="Active cameras recording now")
    total_vnd: int = Field(description="Cameras and recorders, whole đồng")
    cameras_vnd: int
    recorders_vnd: int
    by_source: dict[str, int] = Field(description="VND per funding source")

    @classmethod
    def from_summary(cls, s: SiteSummary) -> SummaryOut:
        return cls(site=s.site_name, active=s.active, disabled=s.disabled, retired=s.retired, online=s.online,
                   total_vnd=s.total_vnd, cameras_vnd=s.cameras_vnd, recorders_vnd=s.recorders_vnd,
                   by_source=s.by_source)
