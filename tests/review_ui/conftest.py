"""Real parts for the review UI tests: SQLite with migrations, a local object store holding a real H.264 clip,
and the app served by uvicorn on 127.0.0.1 in a background thread."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from config import Settings, load_settings
from config.inventory import Inventory
from review_ui.app import create_app
from storage.credentials import CredentialCipher, generate_key
from storage.db import Database
from storage.objectstore import LocalObjectStore
from storage.repo.cameras import get_camera, import_inventory
from storage.repo.events import create_event, finish_event, get_event, set_event_clip, set_event_snapshot
from storage.repo.health import raise_alert, resolve_alert
from storage.repo.segments import add_segment
from storage.repo.users import create_user
from ui_server import serve

PASSWORDS = {"admin": "admin-pass-123", "investigator": "investigator-pass-123", "duty": "duty-pass-123"}
FULL_NAMES = {"admin": "Nguyễn Văn Quản", "investigator": "Trần Thị Điều", "duty": "Lê Văn Trực"}
# 10:00 in Hà Nội on 1 May 2024; every event time below is relative to it.
BASE = dt.datetime(2024, 5, 1, 3, 0, 0, tzinfo=dt.UTC)

CAMERA_PASSWORD = "Mk-camera-2024!"  # must never appear in an answer
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic",
                 # the live wall's WebRTC over loopback (ARCHITECTURE.md)
                 "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns"]
INVENTORY = {
    "site": {"code": "thuan-quy", "name": "Xã Thuận Quý", "province": "Lâm Đồng"},
    "cameras": [
        {"code": "cong-truong", "name": "Cổng trường tiểu học", "village": "Thôn 1",
         "main_url": "rtsp://10.0.0.11:554/stream1", "sub_url": "rtsp://10.0.0.11:554/stream2",
         "username": "admin", "password": CAMERA_PASSWORD,
         "detection": {"zones": {"cổng trường": [[0.0, 0.5], [0.5, 0.5], [0.5, 1.0], [0.0, 1.0]],
                                 "sân trường": [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]}}},
        {"code": "cho-xa", "name": "Chợ xã", "village": "Thôn 3", "main_url": "rtsp://10.0.0.12:554/stream1"},
    ],
}


@dataclass(frozen=True)
class SeedEvent:
    id: int
    camera: str
    kind: str
    start_at: dt.datetime
    end_at: dt.datetime | None
    clip_key: str | None
    snapshot_key: str | None


@dataclass(frozen=True)
class SeedAlert:
    code: str
    level: str
    message: str
    resolved: bool


# Node health alerts: two open (one critical), one with a code the UI has no words for, one already resolved.
ALERTS = {
    "spool": SeedAlert("spool_quota", "critical", "spool /var/spool/matthan holds 12.40 GB, over its 10.00 GB quota; "
                       "nothing is deleted: restore the object store connection or give the spool more disk", False),
    "detector": SeedAlert("detector_unavailable", "warning", "object detection is off: model file "
                          "/var/lib/matthan/models/yolo.onnx is missing. Motion events go on.", False),
    "unknown": SeedAlert("ups_on_battery", "warning", "mains power lost; running on the UPS battery", False),
    "store": SeedAlert("store_unavailable", "warning", "the object store does not answer; segments wait in the spool",
                       True),
}

# Events of the kinds the detector and ingest write besides motion, all on the school camera and after the
# market's 13:00 event, so the camera and time-window expectations of the first five stay as they are.
# name: kind, offset from BASE, length, fields set on the stored event
EXTRA_EVENTS = {
    "gate_motorbike": ("vehicle", dt.timedelta(hours=5), dt.timedelta(seconds=6),
                       {"labels": ["motorbike"], "label_scores": {"motorbike": 0.91}, "zones": ["cổng trường"],
                        "score": 0.91}),
    "yard_person": ("person", dt.timedelta(hours=5, minutes=30), dt.timedelta(seconds=6),
                    {"labels": ["person"], "label_scores": {"person": 0.78}, "zones": ["sân trường"], "score": 0.78}),
    "gate_tamper": ("tamper", dt.timedelta(hours=6), dt.timedelta(minutes=2),
                    {"labels": ["covered"], "detail": "camera view covered", "clip_status": "pending"}),
    "gate_offline": ("offline", dt.timedelta(hours=7), dt.timedelta(minutes=45),
                     {"labels": ["offline"], "clip_status": "none",
                      "detail": "camera 10.0.0.11 did not answer (timed out after 10 s) — check the camera and its settings"}),
}


@dataclass
class Seed:
    """What the tests may rely on: the stored clip, the events and alerts by name, users' passwords, the base time."""

    clip_bytes: bytes
    clip_sha256: str
    base: dt.datetime = BASE
    passwords: dict[str, str] = field(default_factory=lambda: dict(PASSWORDS))
    events: dict[str, SeedEvent] = field(default_factory=dict)
    segment_ids: list[int] = field(default_factory=list)
    alerts: dict[str, SeedAlert] = field(default_factory=dict)


@dataclass(frozen=True)
class Media:
    clip: Path
    snapshot: Path


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("review_ui")


@pytest.fixture(scope="session")
def media(workdir: Path) -> Media:
    """A real 6-second H.264 clip (baseline, faststart) and a JPEG snapshot, made with ffmpeg."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.fail("ffmpeg is needed for the review UI tests: apt-get install ffmpeg")
    clip, snapshot = workdir / "clip.mp4", workdir / "snapshot.jpg"
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=15", "-t", "6",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-profile:v", "baseline", "-preset", "veryfast",
         "-movflags", "+faststart", str(clip)],
        check=True, timeout=60,
    )
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-ss", "1", "-i", str(clip), "-frames:v", "1", "-q:v", "4", str(snapshot)],
        check=True, timeout=30,
    )
    return Media(clip=clip, snapshot=snapshot)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def ui_settings(request: pytest.FixtureRequest, workdir: Path) -> Settings:
    """The whole review UI suite runs twice: on SQLite (the embedded default) and on a real PostgreSQL."""
    root = workdir / request.param
    root.mkdir(exist_ok=True)
    url = f"sqlite:///{root}/db.sqlite" if request.param == "sqlite" else \
        request.getfixturevalue("postgres_cluster").create_database("review_ui")
    return load_settings(
        None,
        web={"secret_key": "x" * 40, "port": 0},
        security={"credentials_key": generate_key()},
        database={"url": url},
        objectstore={"path": str(root / "objects")},
        data_dir=str(root),
    )


@pytest.fixture(scope="session")
def ui_db(ui_settings: Settings) -> Iterator[Database]:
    database = Database(ui_settings.database.url, connect_timeout_s=5)
    database.prepare()
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def ui_store(ui_settings: Settings) -> LocalObjectStore:
    return LocalObjectStore(ui_settings.objectstore.path)


@pytest.fixture(scope="session")
def seed(ui_settings: Settings, ui_db: Database, ui_store: LocalObjectStore, media: Media) -> Seed:
    clip_bytes = media.clip.read_bytes()
    result = Seed(clip_bytes=clip_bytes, clip_sha256=hashlib.sha256(clip_bytes).hexdigest())
    settings, db, store = ui_settings, ui_db, ui_store
    cipher = CredentialCipher(settings.security.credentials_key.get_secret_value())
    with db.session() as session:
        import_inventory(session=session, inventory=Inventory.model_validate(INVENTORY), cipher=cipher)
        for role, password in PASSWORDS.items():
            create_user(session=session, username=role, password=password, role=role, full_name=FULL_NAMES[role])
        cameras = {code: get_camera(session=session, code=code).id for code in ("cong-truong", "cho-xa")}

        # name: camera, kind, offset from BASE, clip ready?, labels
        plan = {
            "school_morning": ("cong-truong", "person", dt.timedelta(0), True, ["person"]),
            "school_noon": ("cong-truong", "motion", dt.timedelta(hours=2), True, []),
            "market": ("cho-xa", "vehicle", dt.timedelta(hours=1), True, ["car", "motorcycle"]),
            "market_pending": ("cho-xa", "motion", dt.timedelta(hours=3), False, []),
            "school_next_day": ("cong-truong", "motion", dt.timedelta(days=1), True, []),
        }
        for name, (code, kind, offset, ready, labels) in plan.items():
            start = BASE + offset
            end = start + dt.timedelta(seconds=6)
            event = create_event(session=session, camera_id=cameras[code], kind=kind, start_at=start, labels=labels,
                                 score=0.87 if labels else 0.0)
            finish_event(session=session, event_id=event.id, end_at=end)
            clip_key = snapshot_key = None
            if ready:
                stamp = start.strftime("%Y/%m/%d/%H/%Y%m%dT%H%M%SZ")
                clip_key = f"clips/{code}/{stamp}-{event.id}.mp4"
                stored = store.put_file(clip_key, media.clip, content_type="video/mp4")
                set_event_clip(session=session, event_id=event.id, status="ready", clip_key=clip_key,
                               sha256=stored.sha256, clip_start_at=start, clip_end_at=end)
                snapshot_key = f"snapshots/{code}/{stamp}-{event.id}.jpg"
                store.put_file(snapshot_key, media.snapshot, content_type="image/jpeg")
                set_event_snapshot(session=session, event_id=event.id, snapshot_key=snapshot_key)
            result.events[name] = SeedEvent(event.id, code, kind, start, end, clip_key, snapshot_key)

        for name, (kind, offset, length, fields) in EXTRA_EVENTS.items():
            start = BASE + offset
            event = create_event(session=session, camera_id=cameras["cong-truong"], kind=kind, start_at=start)
            finish_event(session=session, event_id=event.id, end_at=start + length)
            stored_event = get_event(session=session, event_id=event.id)
            for attribute, value in fields.items():
                setattr(stored_event, attribute, value)
            snapshot_key = None
            if kind == "tamper":  # the detector stores the covered view's picture when tampering starts
                snapshot_key = f"snapshots/cong-truong/{event.id}.jpg"
                store.put_file(snapshot_key, media.snapshot, content_type="image/jpeg")
                set_event_snapshot(session=session, event_id=event.id, snapshot_key=snapshot_key)
            result.events[name] = SeedEvent(event.id, "cong-truong", kind, start, start + length, None, snapshot_key)

        for name, alert in ALERTS.items():
            raise_alert(session=session, code=alert.code, level=alert.level, node="xa-thuan-quy-1",
                        message=alert.message)
            if alert.resolved:
                resolve_alert(session=session, code=alert.code, node="xa-thuan-quy-1")
            result.alerts[name] = alert

        # The recorded segment behind the first clip, so tagging it exercises the legal hold.
        first = result.events["school_morning"]
        seg_key = f"segments/cong-truong/{first.start_at:%Y/%m/%d/%H}/{first.start_at:%Y%m%dT%H%M%SZ}.mp4"
        stored = store.put_file(seg_key, media.clip)
        segment = add_segment(session=session, camera_id=cameras["cong-truong"], start_at=first.start_at,
                              end_at=first.start_at + dt.timedelta(seconds=60), object_key=seg_key,
                              size=stored.size, sha256=stored.sha256)
        result.segment_ids.append(segment.id)
    return result


@pytest.fixture(scope="session")
def live_server(ui_settings: Settings, ui_db: Database, ui_store: LocalObjectStore, seed: Seed) -> Iterator[str]:
    with serve(create_app(ui_settings, db=ui_db, store=ui_store)) as url:
        yield url


@pytest.fixture
def login(live_server: str) -> Iterator[Callable[[str], httpx.Client]]:
    """login("investigator") → an httpx client holding that user's session cookie (closed after the test)."""
    clients: list[httpx.Client] = []

    def _login(role: str) -> httpx.Client:
        client = httpx.Client(base_url=live_server, timeout=20)
        clients.append(client)
        answer = client.post("/api/auth/login", json={"username": role, "password": PASSWORDS[role]})
        assert answer.status_code == 200, answer.text
        return client

    yield _login
    for client in clients:
        client.close()


@pytest.fixture
def anonymous(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=20) as client:
        yield client


@pytest.fixture
def sqlite_only(ui_settings: Settings) -> None:
    """Browser paths run once, on SQLite: the same pages and API are tested on PostgreSQL by the other modules."""
    if ui_settings.database.url.startswith("postgresql"):
        pytest.skip("browser paths run once, on SQLite; the same pages and API are tested on PostgreSQL too")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, one per test module; skips where either is missing."""
    playwright_sync = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    with playwright_sync.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
