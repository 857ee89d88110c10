"""Retention on a real migrated SQLite database with both object-store backends: expiry per camera, the global
quota, legal holds, outages and the worker thread."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from config.inventory import Inventory
from config.settings import IngestConfig, Settings
from ingest.retention import EXPIRED, QUOTA, RetentionWorker
from storage.credentials import CredentialCipher
from storage.db import Database
from storage.models import Camera, Segment
from storage.objectstore import LocalObjectStore, ObjectStore, S3ObjectStore
from storage.repo.cameras import import_inventory
from storage.repo.segments import add_segment, hold_segments
from tests.conftest import make_settings
from tests.waiting import wait_for

NOW = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)
RETENTION = {"cam-01": 7, "cam-02": 30, "cam-03": 1}


def inventory() -> Inventory:
    return Inventory.model_validate({
        "site": {"code": "thuan-quy", "name": "Xã Thuận Quý"},
        "cameras": [{"code": code, "name": f"Camera {code}", "main_url": f"rtsp://10.0.0.{i + 11}:554/main",
                     "retention_days": days} for i, (code, days) in enumerate(RETENTION.items())],
    })


def import_cameras(db: Database, settings: Settings) -> dict[str, int]:
    cipher = CredentialCipher(settings.security.credentials_key.get_secret_value())
    with db.session() as s:
        import_inventory(session=s, inventory=inventory(), cipher=cipher)
    with db.session() as s:
        return {code: cid for code, cid in s.execute(select(Camera.code, Camera.id))}


@pytest.fixture
def cams(db: Database, settings: Settings) -> dict[str, int]:
    return import_cameras(db, settings)


def ingest_config(tmp_path: Path, **values: Any) -> IngestConfig:
    return make_settings(tmp_path, ingest=values).ingest


def record(db: Database, store: ObjectStore | None, camera: str, camera_id: int, end_at: dt.datetime, *,
           size: int = 1000, hold: bool = False, seconds: int = 60) -> str:
    """One 'recorded' segment ending at end_at: real bytes in the store (unless store is None) and its row."""
    start_at = end_at - dt.timedelta(seconds=seconds)
    key = f"segments/{camera}/{start_at:%Y/%m/%d/%H}/{start_at:%Y%m%dT%H%M%SZ}.ts"
    data = (key.encode() * (size // len(key) + 1))[:size]
    if store is not None:
        assert store.put_bytes(key, data).size == size
    with db.session() as s:
        seg = add_segment(session=s, camera_id=camera_id, start_at=start_at, end_at=end_at, object_key=key,
                          size=size, sha256=hashlib.sha256(data).hexdigest())
        if hold:
            hold_segments(session=s, segment_ids=[seg.id])
    return key


def rows(db: Database) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select(Segment.object_key)))


def objects(store: ObjectStore) -> set[str]:
    return {o.key for o in store.list("segments/")}


def test_expiry_follows_each_cameras_retention_and_spares_held_segments(
    db: Database, store: ObjectStore, cams: dict[str, int], tmp_path: Path
) -> None:
    ages = [0.5, 2, 8, 40, 100]  # days since the segment ended
    keys: dict[tuple[str, float], str] = {}
    for code, cid in cams.items():
        for age in ages:
            held = (code, age) in {("cam-01", 100), ("cam-03", 2)}
            keys[code, age] = record(db, store, code, cid, NOW - dt.timedelta(days=age), size=1000 + int(age),
                                     hold=held)
    expected_gone = {keys[c, a] for c, a in keys if a > RETENTION[c] and (c, a) not in {("cam-01", 100),
                                                                                           ("cam-03", 2)}}
    # A batch of 2 makes the run page through cameras and share delete batches between them.
    worker = RetentionWorker(db=db, store=store, config=ingest_config(tmp_path), batch_size=2)
    report = worker.run_once(now=NOW)

    assert rows(db) == set(keys.values()) - expected_gone
    assert objects(store) == rows(db)
    assert report.deleted_segments == len(expected_gone) == 7
    assert report.deleted_bytes == sum(1000 + int(a) for c, a in keys if keys[c, a] in expected_gone)
    assert report.by_reason[EXPIRED].segments == 7 and report.by_reason[QUOTA].segments == 0
    assert report.kept_on_hold == 2 and report.stopped is None and report.total_bytes is None
    # The held segments outlive retention by far; running again changes nothing.
    assert {keys["cam-01", 100], keys["cam-03", 2]} <= rows(db)
    again = worker.run_once(now=NOW)
    assert again.deleted_segments == 0 and again.kept_on_hold == 2
    assert objects(store) == rows(db) == set(keys.values()) - expected_gone


def test_quota_prunes_oldest_first_across_cameras_and_never_held(
    db: Database, store: ObjectStore, cams: dict[str, int], tmp_path: Path
) -> None:
    # 12 one-minute segments per camera, interleaved in time, all recent: retention leaves them alone.
    segs = []  # (end_at, key, size, held)
    for j in range(12):
        for i, (code, cid) in enumerate(cams.items()):
            end_at = NOW - dt.timedelta(minutes=3 * (12 - j) - i)
            size = 500 + 37 * (3 * j + i)
            held = (j, i) in {(0, 0), (1, 2), (7, 1)}
            segs.append((end_at, record(db, store, code, cid, end_at, size=size, hold=held), size, held))
    quota = 20_000
    total = sum(size for _, _, size, _ in segs)
    assert total > quota
    expected_gone = set()
    for _, key, size, held in sorted(segs):
        if total <= quota:
            break
        if not held:
            expected_gone.add(key)
            total -= size

    worker = RetentionWorker(db=db, store=store, config=ingest_config(tmp_path, storage_quota_gb=quota / 1e9),
                             batch_size=3)
    report = worker.run_once(now=NOW)

    left = rows(db)
    assert left == {key for _, key, _, _ in segs} - expected_gone
    assert objects(store) == left
    assert report.by_reason[QUOTA].segments == len(expected_gone) and report.by_reason[EXPIRED].segments == 0
    assert report.total_bytes == total <= quota
    assert sum(size for _, key, size, _ in segs if key in left) == total
    assert {key for _, key, _, held in segs if held} <= left
    # Oldest first: every unheld survivor is newer than everything deleted.
    newest_gone = max(end for end, key, _, _ in segs if key in expected_gone)
    assert all(end > newest_gone for end, key, _, held in segs if key in left and not held)
    # Held segments the walk had to step over: those older than the newest one pruned.
    assert report.kept_on_hold == sum(1 for end, _, _, held in segs if held and end < newest_gone) == 3
    assert not report.held_over_quota
    again = worker.run_once(now=NOW)
    assert again.deleted_segments == 0 and rows(db) == left == objects(store)


def test_held_segments_over_the_quota_are_kept_and_raise_a_critical_line(
    db: Database, store: ObjectStore, cams: dict[str, int], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    held = [record(db, store, "cam-02", cams["cam-02"], NOW - dt.timedelta(hours=h), size=1000, hold=True)
            for h in (1, 2, 3)]
    unheld = [record(db, store, "cam-01", cams["cam-01"], NOW - dt.timedelta(minutes=m)) for m in (5, 30)]
    worker = RetentionWorker(db=db, store=store, config=ingest_config(tmp_path, storage_quota_gb=2e-6))
    with caplog.at_level(logging.INFO, logger="ingest.retention"):
        report = worker.run_once(now=NOW)

    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 1
    message = critical[0].getMessage()
    assert "legal hold" in message and "storage_quota_gb" in message
    assert "Raise ingest.storage_quota_gb or add storage" in message
    assert report.held_over_quota and report.held_bytes == 3000
    # Evidence stays, and so does the recent footage: pruning it could not meet the quota anyway.
    assert rows(db) == objects(store) == set(held) | set(unheld)
    assert report.by_reason[QUOTA].segments == 0 and report.deleted_segments == 0
    assert "no footage is pruned for the quota" in message


def test_a_row_whose_object_is_already_gone_is_removed(
    db: Database, store: ObjectStore, cams: dict[str, int], tmp_path: Path
) -> None:
    # What a crash between deleting the object and deleting its row leaves behind.
    key = record(db, None, "cam-03", cams["cam-03"], NOW - dt.timedelta(days=3))
    kept = record(db, store, "cam-03", cams["cam-03"], NOW - dt.timedelta(hours=1))
    report = RetentionWorker(db=db, store=store, config=ingest_config(tmp_path)).run_once(now=NOW)
    assert report.deleted_segments == 1 and key not in rows(db)
    assert rows(db) == objects(store) == {kept}


def test_a_store_outage_keeps_every_row(
    db: Database, cams: dict[str, int], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for day in range(1, 6):
        record(db, None, "cam-03", cams["cam-03"], NOW - dt.timedelta(days=day * 10))
    before = rows(db)
    down = S3ObjectStore(endpoint="127.0.0.1:9", bucket="matthan", access_key="test", secret_key="test-secret",
                         secure=False, region="us-east-1")  # nothing listens on port 9
    worker = RetentionWorker(db=db, store=down, config=ingest_config(tmp_path, storage_quota_gb=1e-6))
    with caplog.at_level(logging.WARNING, logger="ingest.retention"):
        report = worker.run_once(now=NOW)
    assert rows(db) == before
    assert report.deleted_segments == 0 and report.stopped == "object store unavailable"
    assert any("object store is unavailable" in r.getMessage() for r in caplog.records)


def test_the_thread_runs_on_its_interval_survives_errors_and_stops_promptly(
    tmp_path: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # A database without tables makes the first runs fail; the thread must log that and keep going.
    db = Database(f"sqlite:///{tmp_path / 'later.db'}")
    store = LocalObjectStore(tmp_path / "objects-thread")
    worker = RetentionWorker(db=db, store=store, config=ingest_config(tmp_path, retention_interval_s=1))
    try:
        with caplog.at_level(logging.INFO, logger="ingest.retention"):
            worker.start()
            assert worker.running
            wait_for(lambda: any("retention run failed" in r.getMessage() for r in caplog.records), 5,
                     "the failed run to be logged", every=0.05)
            db.prepare()
            cams = import_cameras(db, settings)
            now = dt.datetime.now(dt.UTC)
            old = record(db, store, "cam-03", cams["cam-03"], now - dt.timedelta(days=2))
            new = record(db, store, "cam-03", cams["cam-03"], now - dt.timedelta(minutes=2))
            wait_for(lambda: old not in rows(db), 5, "the expired segment to be deleted", every=0.05)
            assert rows(db) == objects(store) == {new}
            assert any("retention deleted 1 segments" in r.getMessage() for r in caplog.records)
            started = time.monotonic()
            worker.stop()
            assert time.monotonic() - started < 0.5
            assert not worker.running
    finally:
        worker.stop()
        db.dispose()
