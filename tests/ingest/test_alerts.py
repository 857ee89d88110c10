"""Camera-down alerts on a real SQLite database, with the webhook POSTed to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from config.inventory import Inventory
from config.settings import AlertsConfig, Settings
from ingest.alerts import AlertNotice, CameraAlerts, CameraAlertWorker, WebhookSender
from storage.credentials import CredentialCipher
from storage.db import Database
from storage.models import Camera, HealthAlert
from storage.repo.cameras import import_inventory

NOW = dt.datetime(2026, 11, 30, 3, 0, tzinfo=dt.UTC)
INVENTORY = {"site": {"code": "thuan-quy", "name": "Xã Thuận Quý"}, "cameras": [
    {"code": f"cam-{i}", "name": name, "main_url": f"rtsp://10.0.0.{i}/main"}
    for i, name in ((1, "Cổng trường"), (2, "Chợ xã"), (3, "Ngã ba"))]}


class _Receiver:
    """A webhook endpoint: records what it gets; answers `status` (settable)."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(json.loads(body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def cameras(db: Database, settings: Settings) -> dict[str, int]:
    cipher = CredentialCipher(settings.security.credentials_key.get_secret_value())
    with db.session() as s:
        import_inventory(session=s, inventory=Inventory.model_validate(INVENTORY), cipher=cipher)
        cams = {c.code: c for c in s.scalars(select(Camera))}
        _state(cams["cam-1"], "online", last_frame=NOW)
        _state(cams["cam-2"], "offline", last_frame=NOW - dt.timedelta(minutes=12), detail="Connection refused")
        _state(cams["cam-3"], "auth_failed", since=NOW - dt.timedelta(minutes=1), detail="401 Unauthorized")
        return {code: c.id for code, c in cams.items()}


def _state(cam: Camera, status: str, *, last_frame: dt.datetime | None = None, since: dt.datetime | None = None,
           detail: str = "") -> None:
    cam.status, cam.status_detail, cam.last_frame_at, cam.status_since = status, detail, last_frame, since or NOW


def _open(db: Database) -> dict[str, str]:
    with db.session() as s:
        return {a.node: a.message for a in s.scalars(select(HealthAlert).where(HealthAlert.code == "camera_offline",
                                                                               HealthAlert.resolved_at.is_(None)))}


def test_alert_after_the_threshold_once_then_resolved(db: Database, cameras: dict[str, int],
                                                      receiver: _Receiver) -> None:
    webhook = WebhookSender(receiver.url, timeout_s=5)
    webhook.start()
    alerts = CameraAlerts(db, AlertsConfig(offline_after_minutes=5, webhook_url=receiver.url), notify=webhook.send)
    # cam-2 stopped recording 12 min ago; cam-3 only 1 min ago; cam-1 records
    raised = alerts.check(NOW)
    assert [(n.state, n.camera) for n in raised] == [("raised", "cam-2")]
    assert list(_open(db)) == ["camera:cam-2"] and "12 min" in _open(db)["camera:cam-2"]
    assert alerts.check(NOW + dt.timedelta(seconds=10)) == []  # still down: no second alert, no second call
    assert [(n.state, n.camera) for n in alerts.check(NOW + dt.timedelta(minutes=5))] == [("raised", "cam-3")]
    hooks = receiver.wait_for(2)
    assert [(h["state"], h["camera"], h["camera_name"]) for h in hooks] == [
        ("raised", "cam-2", "Chợ xã"), ("raised", "cam-3", "Ngã ba")]
    assert hooks[0]["source"] == "matthan" and hooks[0]["since_utc"] == (NOW - dt.timedelta(minutes=12)).isoformat()

    with db.session() as s:  # cam-2 records again; cam-3 is disabled by an administrator
        _state(s.get(Camera, cameras["cam-2"]), "online", last_frame=NOW + dt.timedelta(minutes=6))
        s.get(Camera, cameras["cam-3"]).enabled = False
    resolved = alerts.check(NOW + dt.timedelta(minutes=6))
    assert sorted((n.state, n.camera, n.message.split(") ")[-1]) for n in resolved) == [
        ("resolved", "cam-2", "records again"), ("resolved", "cam-3", "is no longer watched")]
    assert _open(db) == {}
    assert len(receiver.wait_for(4)) == 4
    webhook.stop()
    assert webhook.sent == 4 and webhook.failed == 0


def test_only_the_cameras_of_this_node(db: Database, cameras: dict[str, int]) -> None:
    alerts = CameraAlerts(db, AlertsConfig(offline_after_minutes=0.5), camera_ids=lambda: {cameras["cam-1"]})
    assert alerts.check(NOW + dt.timedelta(minutes=10)) == []  # cam-2 and cam-3 are another node's


def test_a_failing_webhook_never_holds_up_the_checks(db: Database, cameras: dict[str, int], receiver: _Receiver,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    receiver.status = 500
    worker = CameraAlertWorker(db, AlertsConfig(offline_after_minutes=5, webhook_url=receiver.url,
                                                webhook_timeout_s=2), interval_s=0.2)  # fmt: skip
    started = time.monotonic()
    worker.start()
    assert len(receiver.wait_for(3, timeout=15)) >= 3  # the first alert (the worker's clock is today's: both cameras are long down), tried 3 times
    assert time.monotonic() - started < 15
    assert set(_open(db)) >= {"camera:cam-2"}  # the alert stands whatever the webhook does
    deadline = time.monotonic() + 10
    while worker.webhook.failed < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    worker.stop()
    assert worker.webhook.failed >= 1
    assert "failed 3 times (it answered HTTP 500)" in caplog.text


def test_an_unreachable_webhook_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    sender = WebhookSender("http://127.0.0.1:9/hook", timeout_s=1)  # port 9 (discard): nothing listens
    sender.start()
    sender.send(AlertNotice(state="raised", code="camera_offline", level="critical", camera="cam-9",
                            camera_name="x", message="m", since_utc="", at_utc=""))  # fmt: skip
    deadline = time.monotonic() + 20
    while sender.failed < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    sender.stop()
    assert sender.failed == 1 and "ConnectError" in caplog.text


def test_a_real_worker_raises_and_resolves_the_alert(tmp_path, simulator, receiver: _Receiver) -> None:  # type: ignore[no-untyped-def]
    """End to end: a worker records a camera that cannot be reached; past the threshold the alert opens and the
    webhook hears of it; when the camera's address is corrected it records again and the alert is resolved."""
    from pydantic import SecretStr

    from config.inventory import CameraConfig
    from matthan.runtime import Worker, cipher_for
    from storage.objectstore import LocalObjectStore
    from storage.repo.camera_admin import create_camera, update_camera
    from storage.repo.cameras import get_camera
    from tests.conftest import make_settings
    from tests.postgres import free_port

    settings = make_settings(tmp_path, ingest={"camera_refresh_seconds": 1.0, "health_interval_s": 1.0},
                             alerts={"offline_after_minutes": 0.05, "webhook_url": receiver.url})  # 3 s
    db = Database(settings.database.url)
    db.prepare()
    cipher = cipher_for(settings)
    with db.session() as s:
        import_inventory(session=s, inventory=Inventory.model_validate({"site": INVENTORY["site"]}), cipher=cipher)
        create_camera(session=s, cipher=cipher, actor="quantri", config=CameraConfig(
            code="cam-xa", name="Camera xa", main_url=f"rtsp://127.0.0.1:{free_port()}/nothing-here",
            password=SecretStr("")))
    worker = Worker(settings, db, LocalObjectStore(settings.objectstore.path))
    worker.start()
    try:
        hooks = receiver.wait_for(1, timeout=30)
        assert [(h["state"], h["camera"]) for h in hooks] == [("raised", "cam-xa")], hooks
        assert "Connection refused" in hooks[0]["message"] or "refused" in hooks[0]["message"].lower()
        assert list(_open(db)) == ["camera:cam-xa"]
        with db.session() as s:
            update_camera(session=s, cam=get_camera(session=s, code="cam-xa"), cipher=cipher, actor="quantri",
                          config=CameraConfig(code="cam-xa", name="Camera xa", main_url=simulator.main_url(1),
                                              password=SecretStr("")))  # fmt: skip
        hooks = receiver.wait_for(2, timeout=40)
        assert [(h["state"], h["camera"]) for h in hooks] == [("raised", "cam-xa"), ("resolved", "cam-xa")]
        assert _open(db) == {}
    finally:
        worker.stop()
        db.dispose()
