"""What a village network, a power cut and a storage outage do to recording — with the real simulator, real ffmpeg,
a real S3-protocol server and a real `matthan worker` process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from config import load_settings
from config.settings import Settings
from matthan.simulator.runner import SimulatedCameras
from storage.db import Database
from storage.models import Camera, Event, HealthAlert, Segment
from storage.objectstore import S3ObjectStore
from tests.conftest import CACHE, make_settings, settings_values
from tests.ingest.test_recording import seg_rows, start_supervisor, wait_for
from tests.ports import free_port

pytestmark = pytest.mark.slow
SMALL = {"main_size": (640, 360), "sub_size": (320, 180)}


def assert_contiguous(rows: list[Segment], *, slack_s: float = 1.5) -> None:
    for a, b in zip(rows, rows[1:]):
        gap = (b.start_at - a.end_at).total_seconds()
        assert -0.5 < gap < slack_s, f"gap of {gap:.2f} s between {a.object_key} and {b.object_key}"


def test_camera_gone_for_30_s_records_again_within_10_s_and_the_offline_period_is_stored(tmp_path: Path) -> None:
    port = free_port()
    # the shipped restart backoff (2 s doubling to 5 s), not a test-only one
    settings = make_settings(tmp_path, ingest={"restart_backoff_s": 2.0, "restart_backoff_max_s": 5.0})
    db = Database(settings.database.url)
    db.prepare()
    sim = SimulatedCameras(cache_dir=CACHE / "footage", count=1, port=port, **SMALL).start()
    sup = start_supervisor(settings, db, [{"code": "cam-01", "name": "A", "main_url": sim.main_url(1)}])
    try:
        wait_for(lambda: len(seg_rows(db, "cam-01")) >= 1, 20, "first segment")
        killed = time.time()
        sim.stop()
        time.sleep(30)
        sim = SimulatedCameras(cache_dir=CACHE / "footage", count=1, port=port, **SMALL).start()
        back = time.time()
        wait_for(lambda: any(r.start_at.timestamp() > back - 1 for r in seg_rows(db, "cam-01")), 25,
                 "a segment recorded after the camera returned")
    finally:
        sup.stop()
        sim.stop()
    rows = seg_rows(db, "cam-01")
    resumed = min(r.start_at.timestamp() for r in rows if r.start_at.timestamp() > back - 1)
    assert resumed - back <= 10, f"recording resumed {resumed - back:.1f} s after the camera returned"
    before = [r for r in rows if r.end_at.timestamp() <= killed + 1]
    assert before and killed - before[-1].end_at.timestamp() < 2, "footage up to the cut was kept"
    with db.session() as s:
        offline = s.scalars(select(Event).where(Event.kind == "offline")).all()
        camera = s.scalars(select(Camera)).one()
    assert len(offline) == 1 and offline[0].end_at is not None
    assert abs(offline[0].start_at.timestamp() - killed) <= 3, (offline[0].start_at, killed)
    assert 0 <= offline[0].end_at.timestamp() - back <= 10, (offline[0].end_at, back)
    assert offline[0].labels == ["offline"] and offline[0].clip_status == "none"
    assert camera.status == "online"
    db.dispose()


class RestartableS3:
    """moto's S3 server on a fixed port that can be stopped and started again; its data lives in this process."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server: Any = None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        self._server.stop()


def test_store_down_for_2_minutes_loses_nothing(tmp_path: Path, simulator: Any) -> None:
    s3 = RestartableS3()
    s3.start()
    settings = make_settings(tmp_path, objectstore={"backend": "s3", "endpoint": f"127.0.0.1:{s3.port}",
                                                    "bucket": "outage", "access_key": "test",
                                                    "secret_key": "not-a-placeholder", "secure": False,
                                                    "region": "us-east-1"},
                             ingest={"upload_backoff_max_s": 10.0, "health_interval_s": 1.0})
    db = Database(settings.database.url)
    db.prepare()
    store = S3ObjectStore(endpoint=f"127.0.0.1:{s3.port}", bucket="outage", access_key="test",
                          secret_key="not-a-placeholder", secure=False, region="us-east-1")
    sup = start_supervisor(settings, db, [{"code": "cam-01", "name": "A", "main_url": simulator.main_url(2)}],
                           store=store)
    started = time.time()
    try:
        wait_for(lambda: len(seg_rows(db, "cam-01")) >= 1, 20, "first upload")
        s3.stop()
        time.sleep(120)
        spooled = list(Path(settings.ingest.spool_dir, "cam-01").glob("*.ts"))
        assert len(spooled) >= 120 / settings.ingest.segment_seconds - 3, "segments wait in the spool"
        with db.session() as s:
            alert = s.scalars(select(HealthAlert).where(HealthAlert.code == "store_unavailable")).one()
            assert alert.resolved_at is None
        s3.start()
        wait_for(lambda: len(list(Path(settings.ingest.spool_dir, "cam-01").glob("*.ts"))) <= 1, 60,
                 "the spool to drain after the store returned")
    finally:
        sup.stop()
        stopped = time.time()
    rows = seg_rows(db, "cam-01")
    assert_contiguous(rows)
    recorded = sum((r.end_at - r.start_at).total_seconds() for r in rows)
    assert abs(recorded - (rows[-1].end_at - rows[0].start_at).total_seconds()) < 2
    assert (stopped - started) - recorded < 2 * settings.ingest.segment_seconds + 5
    objects = {o.key: o.size for o in store.list("segments/cam-01/")}
    assert len(objects) == len(rows) and all(objects[r.object_key] == r.bytes for r in rows)
    assert all(store.sha256(r.object_key) == r.sha256 for r in rows[:: max(1, len(rows) // 5)])
    assert not list(Path(settings.ingest.spool_dir, "cam-01").glob("*.ts"))
    with db.session() as s:
        assert s.scalars(select(HealthAlert).where(HealthAlert.code == "store_unavailable")).one().resolved_at
    s3.stop()
    db.dispose()


def ffmpeg_writing_into(spool: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if cmdline.startswith("ffmpeg") and str(spool) in cmdline:
                pids.append(int(proc.name))
    return pids


def test_sigkill_of_the_worker_loses_at_most_the_tail_and_duplicates_nothing(tmp_path: Path, simulator: Any) -> None:
    values = settings_values(tmp_path)
    inventory = {"site": {"code": "x", "name": "X"},
                 "cameras": [{"code": "cam-01", "name": "A", "main_url": simulator.main_url(3),
                              "sub_url": simulator.sub_url(3)}]}
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump(inventory))
    values["inventory"] = str(tmp_path / "inventory.yaml")
    config = tmp_path / "settings.yaml"
    config.write_text(yaml.safe_dump(json.loads(json.dumps(values, default=str))))
    settings: Settings = load_settings(config)
    env = dict(os.environ, MATTHAN_CONFIG=str(config))
    subprocess.run([sys.executable, "-m", "matthan", "init"], env=env, check=True, timeout=60, capture_output=True)
    db = Database(settings.database.url)
    spool = Path(settings.ingest.spool_dir)

    first = subprocess.Popen([sys.executable, "-m", "matthan", "worker"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    wait_for(lambda: len(seg_rows(db, "cam-01")) >= 2, 30, "segments from the first run")
    time.sleep(settings.ingest.segment_seconds / 2)  # mid-segment
    first.send_signal(signal.SIGKILL)
    killed = time.time()
    first.wait()
    wait_for(lambda: not ffmpeg_writing_into(spool), 5, "ffmpeg to follow its killed parent")
    leftovers = sorted(p.name for p in (spool / "cam-01").glob("*.ts") if p.stat().st_size > 0)
    assert leftovers, "the killed run's tail waits in the spool"  # (an empty file ffmpeg had just opened is not)

    second = subprocess.Popen([sys.executable, "-m", "matthan", "worker"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    restarted = time.time()
    wait_for(lambda: any(r.start_at.timestamp() > restarted for r in seg_rows(db, "cam-01")), 30,
             "recording in the second run")
    second.send_signal(signal.SIGTERM)
    assert second.wait(60) == 0
    rows = seg_rows(db, "cam-01")
    keys = [r.object_key for r in rows]
    assert len(keys) == len(set(keys))
    assert {r.object_key.rsplit("/", 1)[-1] for r in rows} >= set(leftovers), "the tail went up at restart"
    before = [r for r in rows if r.start_at.timestamp() < killed]
    after = [r for r in rows if r.start_at.timestamp() >= killed]
    assert_contiguous(before)
    assert killed - before[-1].end_at.timestamp() < 1.5, "only the last moment before the kill may be lost"
    assert after and after[0].start_at.timestamp() - before[-1].end_at.timestamp() < (restarted - killed) + 10
    db.dispose()


def test_wrong_password_and_a_resolution_switch_leave_the_good_camera_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from config.settings import DetectConfig
    from ingest.frames import FrameReader
    from storage.repo.cameras import CameraSource

    caplog.set_level(logging.WARNING)
    settings = make_settings(tmp_path)
    db = Database(settings.database.url)
    db.prepare()
    with SimulatedCameras(cache_dir=CACHE / "footage", count=1, user="admin", password="dung-mat-khau",
                          resolution_switch=True, **SMALL) as sim:
        plain = sim.url("/cam1/main", credentials=False)
        cams = [
            {"code": "good", "name": "A", "main_url": plain, "username": "admin", "password": "dung-mat-khau"},
            {"code": "wrong-pw", "name": "B", "main_url": plain, "username": "admin", "password": "sai-mat-khau"},
            {"code": "switch", "name": "C", "main_url": sim.url("/switch", credentials=False), "username": "admin",
             "password": "dung-mat-khau"},
        ]
        sup = start_supervisor(settings, db, cams)
        reader = FrameReader(CameraSource(camera_id=0, code="switch", record_url=sim.switch_url,
                                          detect_url=sim.switch_url), ingest=settings.ingest,
                             detect=DetectConfig(fps=15))
        reader.start()
        sizes: set[tuple[int, int]] = set()
        try:
            deadline = time.time() + 16  # the stream switches size every 3 s
            while time.time() < deadline:
                frame = reader.get(timeout=1)
                if frame is not None:
                    sizes.add(frame.image.shape[:2])
        finally:
            reader.stop()
            sup.stop()
    with db.session() as s:
        state = {c.code: (c.status, c.status_detail) for c in s.scalars(select(Camera))}
    assert state["wrong-pw"][0] == "auth_failed" and "password" in state["wrong-pw"][1]
    assert state["good"][0] == "online" and state["switch"][0] == "online"
    assert sizes == {(180, 320), (360, 640)}, "frames of both sizes were decoded"
    assert "sai-mat-khau" not in caplog.text and "dung-mat-khau" not in caplog.text
    assert "refused the user name or password" in caplog.text
    for code in ("good", "switch"):
        rows = seg_rows(db, code)
        assert len(rows) >= 3, code
        assert_contiguous(rows)
    probe = [subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=width",
                             "-of", "csv=p=0", str(Path(settings.objectstore.path, r.object_key))],
                            capture_output=True, text=True).stdout.split() for r in seg_rows(db, "switch")]
    assert {"320", "640"} <= {w for widths in probe for w in widths}, "recorded across the switch"
    assert not seg_rows(db, "wrong-pw")
    db.dispose()
