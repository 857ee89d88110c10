"""The health page, its JSON and /metrics on a database of their own (three cameras in known states, segments, an
open offline alert raised by the real alert check), served by uvicorn."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from config import Settings, load_settings
from config.inventory import Inventory
from config.settings import AlertsConfig
from ingest.alerts import CameraAlerts
from review_ui.app import create_app
from storage.credentials import CredentialCipher, generate_key
from storage.db import Database
from storage.models import Camera, utcnow
from storage.objectstore import LocalObjectStore
from storage.repo.cameras import import_inventory
from storage.repo.segments import add_segment
from storage.repo.users import create_user
from ui_server import serve

PASSWORD = "suc-khoe-mat-khau-1"
INVENTORY = {"site": {"code": "thuan-quy", "name": "Xã Thuận Quý"}, "cameras": [
    {"code": "cong-truong", "name": "Cổng trường", "village": "Thôn 1", "main_url": "rtsp://10.0.0.11/main"},
    {"code": "cho-xa", "name": "Chợ xã", "village": "Thôn 3", "main_url": "rtsp://10.0.0.12/main"},
    {"code": "nga-ba", "name": "Ngã ba", "main_url": "rtsp://10.0.0.13/main", "enabled": False}]}
# Prometheus text exposition: comments, or name{labels} value
METRIC_LINE = re.compile(r'^(# (HELP|TYPE) \w+ .+|[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+)$')


@pytest.fixture(scope="module")
def health_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root: Path = tmp_path_factory.mktemp("health")
    settings: Settings = load_settings(
        None, web={"secret_key": "h" * 40, "port": 0}, security={"credentials_key": generate_key()},
        database={"url": f"sqlite:///{root}/db.sqlite"}, objectstore={"path": str(root / "objects")},
        data_dir=str(root), alerts={"offline_after_minutes": 5})  # fmt: skip
    db = Database(settings.database.url)
    db.prepare()
    now = utcnow()
    with db.session() as s:
        import_inventory(session=s, inventory=Inventory.model_validate(INVENTORY),
                         cipher=CredentialCipher(settings.security.credentials_key.get_secret_value()))
        cams = {c.code: c for c in s.scalars(select(Camera))}
        gate, market = cams["cong-truong"], cams["cho-xa"]
        gate.status, gate.fps, gate.bitrate_kbps, gate.last_frame_at = "online", 15.0, 812.0, now
        market.status, market.status_detail = "offline", "Connection refused: check the camera's power and cable"
        market.last_frame_at = market.status_since = now - dt.timedelta(minutes=42)
        for i in range(3):
            start = now - dt.timedelta(minutes=10 - i)
            add_segment(session=s, camera_id=gate.id, start_at=start, end_at=start + dt.timedelta(minutes=1),
                        object_key=f"segments/cong-truong/{i}.ts", size=1_500_000, sha256="a" * 64)
        create_user(session=s, username="truc", password=PASSWORD, role="duty")
    CameraAlerts(db, AlertsConfig(offline_after_minutes=5)).check()  # the worker's check raises cho-xa's alert
    with serve(create_app(settings, db=db, store=LocalObjectStore(settings.objectstore.path))) as url:
        yield url
    db.dispose()


@pytest.fixture
def client(health_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=health_server, timeout=20) as c:
        assert c.post("/api/auth/login", json={"username": "truc", "password": PASSWORD}).status_code == 200
        yield c


def test_health_page_shows_every_camera_state_figures_and_footage(client: httpx.Client) -> None:
    page = client.get("/health")
    assert page.status_code == 200
    html = page.text
    rows = {code: re.search(rf'<tr data-camera="{code}".*?</tr>', html, re.S).group(0)
            for code in ("cong-truong", "cho-xa", "nga-ba")}
    # Vietnamese writes the decimal mark as a comma (its "." groups thousands, as in 4.200.000 ₫)
    assert 'data-status="online"' in rows["cong-truong"] and "15,0" in rows["cong-truong"]
    assert "812 kbit/s" in rows["cong-truong"] and "4,3 MB" in rows["cong-truong"] and "3 đoạn" in rows["cong-truong"]
    assert "Mất kết nối" in rows["cho-xa"] and "Cảnh báo" in rows["cho-xa"] and 'class="alerting"' in rows["cho-xa"]
    assert "check the camera" in rows["cho-xa"] and "không ghi từ" in rows["cho-xa"]
    assert "Đã tắt" in rows["nga-ba"]
    summary = {k: re.search(rf'id="sum-{k}">([^<]*)<', html).group(1) for k in ("cameras", "online", "down")}
    assert summary == {"cameras": "2", "online": "1", "down": "1"}
    # the alert is also on every page's banner
    assert 'data-code="camera_offline"' in client.get("/events").text
    english = client.get("/lang/en?next=/health", follow_redirects=True).text
    assert "Camera health" in english and "Not recording" in english
    assert "4.3 MB" in english and "15.0" in english


def test_health_json(client: httpx.Client) -> None:
    rows = {r["code"]: r for r in client.get("/api/health/cameras").json()}
    assert rows["cong-truong"]["storage_bytes"] == 4_500_000 and rows["cong-truong"]["segments"] == 3
    assert rows["cho-xa"]["alert"] is True and rows["cho-xa"]["fps"] is None and rows["cho-xa"]["down_since"]
    assert rows["cong-truong"]["down_since"] is None and rows["nga-ba"]["enabled"] is False
    alerts = client.get("/api/health/alerts").json()
    assert [(a["code"], a["node"]) for a in alerts] == [("camera_offline", "camera:cho-xa")]


def test_metrics_for_prometheus_with_an_api_token(client: httpx.Client, health_server: str) -> None:
    assert httpx.get(f"{health_server}/metrics").status_code == 401
    bad = httpx.get(f"{health_server}/metrics", headers={"Authorization": "Bearer mt_not-a-token"})
    assert bad.status_code == 401 and "not valid" in bad.text
    token = client.post("/api/auth/tokens", json={"name": "prometheus"}).json()["token"]
    answer = httpx.get(f"{health_server}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = answer.text.strip().splitlines()
    assert all(METRIC_LINE.match(line) for line in lines), [line for line in lines if not METRIC_LINE.match(line)]
    values = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in lines if not line.startswith("#")}
    assert values['matthan_camera_up{camera="cong-truong"}'] == 1
    assert values['matthan_camera_up{camera="cho-xa"}'] == 0
    assert values['matthan_camera_alert{camera="cho-xa"}'] == 1
    assert 41 * 60 < values['matthan_camera_down_seconds{camera="cho-xa"}'] < 44 * 60
    assert values['matthan_camera_storage_bytes{camera="cong-truong"}'] == 4_500_000
    assert values["matthan_cameras"] == 2 and values["matthan_cameras_online"] == 1
    assert values['matthan_alerts_open{code="camera_offline",level="critical"}'] == 1
    assert 'camera="nga-ba"' not in answer.text.split("matthan_camera_storage_bytes")[0]  # disabled: no up/fps
