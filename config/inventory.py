"""The camera inventory YAML: a site, its recorders (NVRs) and cameras, with who funded them."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from config.settings import ConfigError

CODE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"

# Channel URL paths by recorder vendor; {ch} is the channel number.
URL_TEMPLATES: dict[str, tuple[str, str]] = {
    "hikvision": ("/Streaming/Channels/{ch}01", "/Streaming/Channels/{ch}02"),
    "dahua": ("/cam/realmonitor?channel={ch}&subtype=0", "/cam/realmonitor?channel={ch}&subtype=1"),
}


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteConfig(_Item):
    code: str = Field(pattern=CODE_PATTERN, description="Short id, e.g. thuan-quy")
    name: str = Field(min_length=1, max_length=200, description="e.g. Xã Thuận Quý")
    kind: Literal["commune", "ward", "town"] = Field(default="commune", description="xã / phường / thị trấn")
    province: str = Field(default="", max_length=200)


class FundingConfig(_Item):
    source: Literal["state_budget", "community", "donor"] = Field(
        default="community", description="ngân sách / xã hội hóa / nhà tài trợ"
    )
    donor: str = Field(default="", max_length=200)
    amount_vnd: int = Field(default=0, ge=0, le=10**13, description="Amount in VND (whole đồng)")
    date: dt.date | None = None


class RecorderConfig(_Item):
    code: str = Field(pattern=CODE_PATTERN)
    name: str = Field(default="", max_length=200)
    vendor: Literal["hikvision", "dahua", "generic"] = "generic"
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=554, ge=1, le=65535)
    username: str = Field(default="", max_length=100)
    password: SecretStr = SecretStr("")
    channels: int = Field(default=4, ge=1, le=256)
    main_template: str | None = Field(default=None, description="URL path for generic recorders, with {ch}")
    sub_template: str | None = None
    funding: FundingConfig = FundingConfig()

    @model_validator(mode="after")
    def _templates(self) -> RecorderConfig:
        if self.vendor == "generic" and not self.main_template:
            raise ValueError(f"recorder {self.code}: a generic recorder needs main_template, e.g. /ch{{ch}}/main")
        return self

    def channel_urls(self, channel: int) -> tuple[str, str | None]:
        """Main and sub stream URLs of one channel, without credentials."""
        if not 1 <= channel <= self.channels:
            raise ValueError(f"recorder {self.code} has channels 1..{self.channels}, not {channel}")
        main, sub = URL_TEMPLATES.get(self.vendor, (self.main_template or "", self.sub_template))
        base = f"rtsp://{self.host}:{self.port}"
        return base + main.format(ch=channel), (base + sub.format(ch=channel)) if sub else None


Polygon = list[tuple[float, float]]


class CameraDetectionConfig(_Item):
    """Per-camera detection settings. Polygons are lists of (x, y) in fractions of the frame (0..1), so they hold
    for the main and the sub stream alike."""

    masks: list[Polygon] = Field(default=[], description="Areas ignored by motion (trees, the camera's clock)")
    zones: dict[str, Polygon] = Field(default={}, description='Named areas, e.g. "cổng trường", "ngã ba"')
    pixel_threshold: int | None = Field(default=None, ge=1, le=255, description="Overrides detect.pixel_threshold")
    min_area: float | None = Field(default=None, gt=0, le=1, description="Overrides detect.min_area")

    @field_validator("masks")
    @classmethod
    def _masks(cls, masks: list[Polygon]) -> list[Polygon]:
        for polygon in masks:
            _check_polygon(polygon)
        return masks

    @field_validator("zones")
    @classmethod
    def _zones(cls, zones: dict[str, Polygon]) -> dict[str, Polygon]:
        for name, polygon in zones.items():
            if not name.strip() or len(name) > 100:
                raise ValueError("zone names must be 1..100 characters")
            _check_polygon(polygon)
        return zones


def _check_polygon(polygon: Polygon) -> None:
    if len(polygon) < 3:
        raise ValueError("a polygon needs at least 3 points")
    if any(not (0 <= x <= 1 and 0 <= y <= 1) for x, y in polygon):
        raise ValueError("polygon points are fractions of the frame: 0 <= x, y <= 1")


class CameraConfig(_Item):
    code: str = Field(pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=200, description="e.g. Cổng trường tiểu học")
    village: str = Field(default="", max_length=200, description="thôn / tổ dân phố")
    address: str = Field(default="", max_length=500)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    view: str = Field(default="", max_length=500, description="What the camera looks at")
    main_url: str | None = Field(default=None, description="RTSP URL of the main stream (direct cameras)")
    sub_url: str | None = Field(default=None, description="RTSP URL of the sub stream; detection falls back to main")
    recorder: str | None = Field(default=None, description="Recorder code, with channel, instead of URLs")
    channel: int | None = Field(default=None, ge=1, le=256)
    username: str = Field(default="", max_length=100)
    password: SecretStr = SecretStr("")
    enabled: bool = True
    retention_days: int = Field(default=30, ge=1, le=3650)
    funding: FundingConfig = FundingConfig()
    installed_on: dt.date | None = None
    installer: str = Field(default="", max_length=200)
    detection: CameraDetectionConfig = CameraDetectionConfig()

    @field_validator("main_url", "sub_url")
    @classmethod
    def _rtsp(cls, url: str | None) -> str | None:
        if url is None:
            return None
        if any(c.isspace() or not c.isprintable() for c in url):
            # a line break in a URL would also split the log lines that name it
            raise ValueError("an RTSP URL has no spaces, tabs or line breaks: type it again on one line "
                             "(a space in a path is written %20)")
        parts = urlsplit(url)
        if parts.scheme not in ("rtsp", "rtsps") or not parts.hostname:
            raise ValueError(f"not an RTSP URL: {url.split('@')[-1]!r} (expected rtsp://host:port/path)")
        try:
            port = parts.port
        except ValueError:
            port = 0
        if port == 0:  # urlsplit: None when no port is given (554 then), 0 or ValueError when it is not 1-65535
            raise ValueError(f"the port in {url.split('@')[-1]!r} is not a number from 1 to 65535 "
                             "(RTSP cameras usually use 554)")
        if parts.username or parts.password:
            raise ValueError("put credentials in username/password, not in the URL (they are encrypted at rest)")
        return url

    @model_validator(mode="after")
    def _source(self) -> CameraConfig:
        if bool(self.main_url) == bool(self.recorder):
            raise ValueError(f"camera {self.code}: give either main_url or recorder + channel")
        if self.recorder and self.channel is None:
            raise ValueError(f"camera {self.code}: recorder {self.recorder} needs a channel number")
        return self


class Inventory(_Item):
    site: SiteConfig
    recorders: list[RecorderConfig] = []
    cameras: list[CameraConfig] = []

    @model_validator(mode="after")
    def _references(self) -> Inventory:
        recorders = {r.code for r in self.recorders}
        codes = [c.code for c in self.cameras]
        if len(codes) != len(set(codes)):
            raise ValueError("camera codes must be unique")
        for camera in self.cameras:
            if camera.recorder and camera.recorder not in recorders:
                raise ValueError(f"camera {camera.code}: unknown recorder {camera.recorder!r}")
        return self


def with_credentials(url: str, username: str, password: str) -> str:
    """The URL with user:password inserted (percent-encoded); for handing to ffmpeg/PyAV only, never for logs."""
    if not username:
        return url
    parts = urlsplit(url)
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return parts._replace(netloc=netloc).geturl()


_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*)(:[^@/\s]*)?@", re.IGNORECASE)


def mask_url(text: str) -> str:
    """Replace passwords in any URL inside `text` by ***, keeping the user name for diagnosis."""
    return _CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:***@", text)


def load_inventory(path: Path) -> Inventory:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read inventory {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"inventory {path} is not valid YAML: {exc}") from exc
    try:
        return Inventory.model_validate(raw)
    except ValueError as exc:
        raise ConfigError(f"inventory {path} is invalid:\n{mask_url(str(exc))}") from exc
