"""The whole path: RTSP simulator → `matthan worker` (a real process) → segments, a motion event and its clip in the
object store → tagged as evidence through the JSON API of a real server."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select

from config import load_settings
from matthan.simulator import scene
from storage.db import Database
from storage.models import Event, Segment
from storage.objectstore import LocalObjectStore
from storage.repo.users import create_user
from tests.conftest import decoded_frames, init_site, settings_values
from tests.review_ui_server import serve

pytestmark = pytest.mark.slow
TOLERANCE_S = 1.0


def overlaps(a: tuple[float, float], b: tuple[float, float], slack: float = 0.0) -> float:
    return min(a[1], b[1] + slack) - max(a[0], b[0] - slack)


def ready_events(db: Database) -> list[Event]:
    with db.session() as s:
        return list(s.scalars(select(Event).where(Event.clip_status == "ready").order_by(Event.start_at)))


def test_camera_to_evidence(tmp_path: Path, simulator: Any) -> None:
    values = settings_values(tmp_path, detect={"fps": 5.0, "pre_roll_s": 0.0, "post_roll_s": 0.0})
    inventory = {"site": {"code": "thuan-quy", "name": "Xã Thuận Quý"},
                 "cameras": [{"code": "cam-01", "name": "Cổng trường", "main_url": simulator.main_url(1),
                              "sub_url": simulator.sub_url(1)}]}
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump(inventory, allow_unicode=True))
    values["inventory"] = str(tmp_path / "inventory.yaml")
    env = init_site(tmp_path / "settings.yaml", values)
    settings = load_settings(tmp_path / "settings.yaml")

    db = Database(settings.database.url)
    store = LocalObjectStore(settings.objectstore.path)
    with db.session() as s:
        create_user(session=s, username="dieutra", password="mat-khau-dai", role="investigator")

    log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen([sys.executable, "-m", "matthan", "worker"], env=env, stdout=log, stderr=log)
    started = time.time()
    try:
        # One whole motorbike crossing must be seen: at most a 40 s cycle plus the crossing plus upload/clip time.
        deadline = started + 110
        while time.time() < deadline and not any(
            e.end_at and e.start_at.timestamp() > started + 3 for e in ready_events(db)
        ):
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            time.sleep(1)
    finally:
        stopped = time.time()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        shutdown_s = time.time() - stopped
    worker_log = (tmp_path / "worker.log").read_text()
    # `matthan run` and the demo give the worker 20 s after SIGTERM, then kill it; its detection used to wait out its
    # silence period (~8 s per camera, one after another) before stopping, so a 3-camera demo was killed mid-stop
    assert worker.returncode == 0 and shutdown_s < 8, (worker.returncode, shutdown_s, worker_log[-2000:])
    events = [e for e in ready_events(db) if e.start_at.timestamp() > started + 3]
    assert events, f"no motion event with a clip; worker log:\n{worker_log[-3000:]}"

    # 1. Segments cover the run with no gap longer than one segment.
    with db.session() as s:
        segments = list(s.scalars(select(Segment).order_by(Segment.start_at)))
    assert segments, worker_log[-2000:]
    seg_s = settings.ingest.segment_seconds
    assert segments[0].start_at.timestamp() - started < 5 + seg_s, "recording started late"
    assert stopped - segments[-1].end_at.timestamp() < seg_s + 2, "the tail was not uploaded at shutdown"
    for a, b in zip(segments, segments[1:]):
        assert (b.start_at - a.end_at).total_seconds() <= seg_s
    for seg in segments:
        assert store.sha256(seg.object_key) == seg.sha256

    # 2. Events match the footage's timetable: each overlaps a known motion interval, none sits in a still one.
    all_events = [e for e in ready_events(db)]
    for e in all_events:
        span = (e.start_at.timestamp(), e.end_at.timestamp())
        moving = scene.intervals(span[0] - 60, span[1] + 60, moving=True)
        assert any(overlaps(span, m, TOLERANCE_S) > 0 for m in moving), f"event {span} matches no motion {moving}"
        for still in scene.intervals(span[0] - 60, span[1] + 60, moving=False):
            inner = (still[0] + TOLERANCE_S + settings.detect.end_seconds, still[1] - TOLERANCE_S)
            assert overlaps(span, inner) <= 0 or not (span[0] >= inner[0] and span[1] <= inner[1]), (
                f"event {span} lies inside the still interval {still}")
            assert not (span[0] <= inner[0] and span[1] >= inner[1]), f"event {span} covers still {still}"
    event = events[0]
    crossing = next(m for m in scene.intervals(event.start_at.timestamp() - 60, event.end_at.timestamp() + 60,
                                               moving=True) if overlaps((event.start_at.timestamp(),
                                                                         event.end_at.timestamp()), m) > 0)
    assert event.start_at.timestamp() >= crossing[0] - TOLERANCE_S
    assert event.end_at.timestamp() <= crossing[1] + settings.detect.end_seconds + TOLERANCE_S

    # 3. The clip plays, and lasts as long as the event.
    clip = tmp_path / "clip.mp4"
    store.download(event.clip_key, clip, expect_sha256=event.clip_sha256)
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_name",
                            "-of", "json", str(clip)], capture_output=True, text=True, check=True)
    info = json.loads(probe.stdout)
    assert info["streams"][0]["codec_name"] == "h264"
    event_s = (event.end_at - event.start_at).total_seconds()
    assert abs(float(info["format"]["duration"]) - event_s) <= 1.0, (info, event_s)
    assert decoded_frames(clip) >= 0.9 * event_s * scene.FPS  # it plays: every frame decodes

    # 4. Tagged through the API: the evidence's SHA-256 is the stored object's.
    with serve(settings) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        assert client.post("/api/auth/login", json={"username": "dieutra", "password": "mat-khau-dai"}).status_code == 200
        listed = client.get("/api/events", params={"camera": "cam-01"}).json()
        assert event.id in [item["id"] for item in listed["items"]]
        answer = client.post(f"/api/events/{event.id}/evidence",
                             json={"new_case_title": "Trộm xe máy trước cổng trường", "note": "xe máy qua cổng"})
        assert answer.status_code == 201, answer.text
        evidence = answer.json()
    assert evidence["sha256"] == hashlib.sha256(store.get_bytes(event.clip_key)).hexdigest()
    with db.session() as s:
        held = s.scalars(select(Segment).where(Segment.legal_hold.is_(True))).all()
        assert held and all(h.start_at < event.clip_end_at and h.end_at > event.clip_start_at for h in held)
    db.dispose()
