"""Node health: the spool quota raises a critical alert and deletes nothing; figures are saved per camera (the frame
rate as the camera sends it)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from config.settings import Settings
from storage.db import Database
from storage.models import Camera, HealthAlert
from tests.conftest import make_settings
from tests.ingest.test_recording import start_supervisor, statuses, wait_for


def test_spool_over_quota_alerts_and_keeps_every_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings: Settings = make_settings(tmp_path, ingest={"spool_quota_gb": 1e-5, "health_interval_s": 600})
    db = Database(settings.database.url)
    db.prepare()
    # the camera is unreachable: nothing is recorded, and nothing uploads files that are not named as segments
    sup = start_supervisor(settings, db, [{"code": "cam-01", "name": "A", "main_url": "rtsp://127.0.0.1:9/x"}])
    try:
        waiting = Path(settings.ingest.spool_dir, "cam-01", "unreadable")
        waiting.mkdir(parents=True, exist_ok=True)
        for i in range(3):
            (waiting / f"kept-{i}.ts").write_bytes(b"\x47" * 6000)
        with caplog.at_level(logging.CRITICAL):
            sup.check_health()
            sup.check_health()  # raised once, not once per check
        with db.session() as s:
            alerts = s.scalars(select(HealthAlert)).all()
        assert [(a.code, a.level, a.resolved_at) for a in alerts] == [("spool_quota", "critical", None)]
        assert "nothing is deleted" in alerts[0].message
        assert len([r for r in caplog.records if r.levelno == logging.CRITICAL]) == 1
        assert len(list(waiting.iterdir())) == 3
        for f in waiting.iterdir():
            f.unlink()
        sup.check_health()
        with db.session() as s:
            assert s.scalars(select(HealthAlert)).one().resolved_at is not None
    finally:
        sup.stop()
        db.dispose()


def test_saved_fps_is_the_rate_the_camera_sends(settings: Settings, db: Database, simulator: Any) -> None:
    """ffmpeg's own progress `fps=` is a whole-run average that also counts the frames it buffered while probing:
    for this 15 fps camera it read 29 at first and still 17.7 after 12 s. The health figure is frames over wall time
    as they are received."""
    assert simulator.fps == 15
    sup = start_supervisor(settings, db, [{"code": "cam-01", "name": "A", "main_url": simulator.main_url(1)}])
    seen: list[float | None] = []
    try:
        wait_for(lambda: statuses(db)["cam-01"][0] == "online", 20, "the camera to record")
        time.sleep(6)  # settled; ffmpeg's own figure still said 19-20 here
        for _ in range(5):
            time.sleep(2)  # progress comes every 2 s
            sup.check_health()
            with db.session() as s:
                seen.append(s.scalars(select(Camera)).one().fps)
    finally:
        sup.stop()
    assert all(fps is not None and abs(fps - 15) <= 1.5 for fps in seen), seen
