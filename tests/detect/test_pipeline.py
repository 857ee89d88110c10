"""Detection pipeline with a real database and object store: events survive a detector restart without
duplicates, and covering a simulated camera raises a tamper event."""

from __future__ import annotations

import time

import numpy as np
from sqlalchemy import select

from config.inventory import Inventory
from config.settings import DetectConfig, Settings
from detect.events import EventWriter
from detect.worker import DetectWorker
from ingest.frames import Frame, FrameReader
from matthan.simulator.runner import SimulatedCameras
from storage.credentials import CredentialCipher
from storage.db import Database
from storage.models import Event
from storage.objectstore import LocalObjectStore
from storage.repo.cameras import CameraSource, camera_sources, import_inventory
from tests.conftest import CACHE

CFG = DetectConfig(frame_width=160, end_seconds=2.0, tamper_seconds=3.0, min_area=0.002)


def camera(settings: Settings, db: Database, url: str = "rtsp://127.0.0.1:9/x") -> CameraSource:
    cipher = CredentialCipher(settings.security.credentials_key.get_secret_value())
    with db.session() as s:
        import_inventory(session=s, inventory=Inventory.model_validate(
            {"site": {"code": "x", "name": "X"}, "cameras": [{"code": "cam-01", "name": "A", "main_url": url}]}),
            cipher=cipher)
        return camera_sources(session=s, cipher=cipher)[0]


def street(x: int | None) -> np.ndarray:
    rng = np.random.default_rng(7)
    img = np.repeat(rng.integers(40, 200, (36, 64), dtype=np.uint8), 10, axis=0).repeat(10, axis=1)
    img = np.dstack([img] * 3)
    if x is not None:
        img[240:300, x:x + 60] = 230
    return img


def worker_for(source: CameraSource, db: Database, store: LocalObjectStore) -> DetectWorker:
    writer = EventWriter(camera_id=source.camera_id, camera_code=source.code, db=db, store=store)
    return DetectWorker(frames=None, writer=writer, config=CFG)  # type: ignore[arg-type]  # fed by process()


def events(db: Database) -> list[Event]:
    with db.session() as s:
        return list(s.scalars(select(Event).order_by(Event.id)))


def test_a_restarted_detector_continues_the_open_event(settings: Settings, db: Database) -> None:
    store = LocalObjectStore(settings.objectstore.path)
    source = camera(settings, db)
    t0 = time.time() - 30
    first = worker_for(source, db, store)
    first.prepare(now=t0)
    for i in range(40):  # still street, then a vehicle moving for 4 s ...
        x = None if i < 20 else 20 + 15 * (i - 20)
        first.process(Frame(camera_id=source.camera_id, at=t0 + i / 5, image=street(x)))
    assert first.writer.open_event_id is not None
    # ... and the detector process dies here (no close). It comes back 3 s later while the vehicle still moves.
    second = worker_for(source, db, store)
    restart = t0 + 40 / 5 + 3
    second.prepare(now=restart)
    assert second.writer.open_event_id == first.writer.open_event_id
    for i in range(40):
        x = 330 + 15 * i if i < 10 else None
        second.process(Frame(camera_id=source.camera_id, at=restart + i / 5, image=street(x)))
    found = events(db)
    assert len(found) == 1, [(e.id, e.start_at, e.end_at) for e in found]
    event = found[0]
    assert abs(event.start_at.timestamp() - (t0 + 4.0)) < 0.5
    assert event.end_at is not None and abs(event.end_at.timestamp() - (restart + 9 / 5)) < 0.5
    assert event.snapshot_key and store.exists(event.snapshot_key)


def test_a_stale_open_event_is_closed_not_resumed(settings: Settings, db: Database) -> None:
    store = LocalObjectStore(settings.objectstore.path)
    source = camera(settings, db)
    t0 = time.time() - 600
    first = worker_for(source, db, store)
    for i in range(30):
        first.process(Frame(camera_id=source.camera_id, at=t0 + i / 5,
                            image=street(None if i < 10 else 20 + 15 * (i - 10))))
    second = worker_for(source, db, store)
    second.prepare()  # ten minutes later
    assert second.writer.open_event_id is None
    assert all(e.end_at is not None for e in events(db))


def test_covering_the_camera_raises_a_tamper_event(settings: Settings, db: Database) -> None:
    store = LocalObjectStore(settings.objectstore.path)
    with SimulatedCameras(cache_dir=CACHE / "footage", count=1, covered=True, main_size=(640, 360),
                          sub_size=(320, 180)) as sim:
        source = camera(settings, db, sim.covered_url)
        source = CameraSource(camera_id=source.camera_id, code=source.code, record_url=sim.covered_url,
                              detect_url=sim.covered_url)
        reader = FrameReader(source, ingest=settings.ingest, detect=CFG)
        writer = EventWriter(camera_id=source.camera_id, camera_code=source.code, db=db, store=store)
        worker = DetectWorker(reader, writer, CFG)
        reader.start()
        worker.start()
        try:
            deadline = time.time() + 50  # a 22-s loop: 12 s of street, 10 s covered
            while time.time() < deadline and not any(
                    e.kind == "tamper" and e.end_at is not None for e in events(db)):
                time.sleep(0.5)
        finally:
            worker.stop()
            reader.stop()
    tampers = [e for e in events(db) if e.kind == "tamper"]
    assert tampers, [(e.kind, e.start_at, e.end_at) for e in events(db)]
    first = tampers[0]
    assert first.labels == ["covered"] and first.snapshot_key and store.exists(first.snapshot_key)
    assert first.end_at is not None and 7 <= (first.end_at - first.start_at).total_seconds() <= 13
    # covering is not motion: no motion event starts inside the covered time
    for e in events(db):
        if e.kind != "tamper":
            assert not (first.start_at < e.start_at < first.end_at), (e.kind, e.start_at)
