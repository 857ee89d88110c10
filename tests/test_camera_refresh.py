"""The worker follows the camera list in the database without a restart: a camera added starts recording, a camera
disabled stops, with its last segment closed and uploaded (the same path as a shutdown)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select

from config.inventory import CameraConfig, Inventory
from matthan.runtime import Worker, cipher_for
from storage.db import Database
from storage.models import Camera, Segment
from storage.objectstore import LocalObjectStore
from storage.repo.camera_admin import create_camera, set_camera_enabled
from storage.repo.cameras import get_camera, import_inventory
from tests.conftest import make_settings
from tests.waiting import wait_for


def segments(db: Database, code: str) -> list[Segment]:
    with db.session() as s:
        return list(s.scalars(select(Segment).join(Camera).where(Camera.code == code).order_by(Segment.start_at)))


def camera(db: Database, code: str) -> Camera:
    with db.session() as s:
        return get_camera(session=s, code=code)


def test_a_camera_added_then_disabled_starts_then_stops_recording(tmp_path: Path, simulator: Any) -> None:
    settings = make_settings(tmp_path, ingest={"camera_refresh_seconds": 1.0})
    db = Database(settings.database.url)
    db.prepare()
    cipher = cipher_for(settings)
    with db.session() as s:
        import_inventory(session=s, inventory=Inventory.model_validate(
            {"site": {"code": "thuan-quy", "name": "Xã Thuận Quý"}}), cipher=cipher)
    worker = Worker(settings, db, LocalObjectStore(settings.objectstore.path))
    worker.start()
    try:
        assert worker.sources == {}
        with db.session() as s:
            create_camera(session=s, cipher=cipher, actor="quantri", config=CameraConfig(
                code="cam-moi", name="Camera mới", main_url=simulator.main_url(2),
                sub_url=simulator.sub_url(2), password=SecretStr("")))
        added = time.monotonic()
        wait_for(lambda: segments(db, "cam-moi"), 30, "the new camera's first segment")
        assert time.monotonic() - added < 30
        assert camera(db, "cam-moi").status == "online"
        assert set(worker.detectors) == {"cam-moi"}  # detection runs for it too

        with db.session() as s:
            set_camera_enabled(session=s, cam=get_camera(session=s, code="cam-moi"), enabled=False, cipher=cipher,
                               actor="quantri")
        disabled_at = time.time()
        wait_for(lambda: not worker.sources, 30, "the disabled camera to stop")
        stopped_at = time.time()
        assert worker.detectors == {} and camera(db, "cam-moi").status == "stopped"
        # the segment open when it stopped was closed and goes up; after that nothing more comes
        spool = Path(settings.ingest.spool_dir, "cam-moi")
        wait_for(lambda: not list(spool.glob("*.ts")), 15, "the last segment to be uploaded")
        count = len(segments(db, "cam-moi"))
        last_end = segments(db, "cam-moi")[-1].end_at.timestamp()
        time.sleep(2 * settings.ingest.segment_seconds)
        assert len(segments(db, "cam-moi")) == count, "a disabled camera must not record"
        # the tail up to the moment it stopped was kept: the last segment ends after the camera was disabled
        assert disabled_at - 1 <= last_end <= stopped_at + 1, (disabled_at, last_end, stopped_at)

        with db.session() as s:  # enabled again: it comes back without a restart
            set_camera_enabled(session=s, cam=get_camera(session=s, code="cam-moi"), enabled=True, cipher=cipher,
                               actor="quantri")
        wait_for(lambda: len(segments(db, "cam-moi")) > count, 30, "recording again after enabling")
    finally:
        worker.stop()
        db.dispose()
