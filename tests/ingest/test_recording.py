"""Recorder + uploader against the real RTSP simulator and real ffmpeg; bad sources leave a clear status."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from config.inventory import Inventory
from config.settings import Settings
from ingest.segments import SpoolSegment, probe_duration
from ingest.supervisor import IngestSupervisor
from storage.credentials import CredentialCipher
from storage.db import Database
from storage.models import Camera, Segment
from storage.objectstore import LocalObjectStore, ObjectStore
from storage.repo.cameras import camera_sources, import_inventory
from tests.conftest import make_settings
from tests.waiting import wait_for


def inventory(cameras: list[dict[str, Any]]) -> Inventory:
    return Inventory.model_validate({"site": {"code": "thuan-quy", "name": "Xã Thuận Quý"}, "cameras": cameras})


def start_supervisor(settings: Settings, db: Database, cams: list[dict[str, Any]],
                     store: ObjectStore | None = None) -> IngestSupervisor:
    cipher = CredentialCipher(settings.security.credentials_key.get_secret_value())
    with db.session() as s:
        import_inventory(session=s, inventory=inventory(cams), cipher=cipher)
        sources = camera_sources(session=s, cipher=cipher)
    sup = IngestSupervisor(sources, ingest=settings.ingest, detect=settings.detect, db=db,
                           store=store or LocalObjectStore(settings.objectstore.path), read_frames=False)
    sup.start()
    return sup


def statuses(db: Database) -> dict[str, tuple[str, str]]:
    with db.session() as s:
        return {c.code: (c.status, c.status_detail) for c in s.scalars(select(Camera))}


def test_bad_sources_get_a_clear_status_and_the_good_one_keeps_recording(
    settings: Settings, db: Database, simulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    silent = socket.socket()  # accepts the connection and never answers: a hung camera, not a codec problem
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    cams = [
        {"code": "good", "name": "Cổng trường", "main_url": simulator.main_url(1)},
        # nothing listens on port 9 of loopback: connection refused
        {"code": "unreachable", "name": "Cầu", "main_url": "rtsp://127.0.0.1:9/live", "username": "admin",
         "password": "Secret-123"},
        {"code": "audio", "name": "Loa", "main_url": simulator.audio_url, "username": "admin",
         "password": "Secret-456"},
        {"code": "silent", "name": "Treo", "main_url": f"rtsp://127.0.0.1:{silent.getsockname()[1]}/live"},
    ]
    sup = start_supervisor(settings, db, cams)
    try:
        wait_for(lambda: statuses(db)["unreachable"][0] == "offline" and statuses(db)["silent"][0] != "connecting"
                 and statuses(db)["audio"][0] == "unsupported_stream" and statuses(db)["good"][0] == "online",
                 30, "every camera to reach its state")
        wait_for(lambda: len(seg_rows(db, "good")) >= 2, 30, "segments of the good camera")
    finally:
        sup.stop()
        silent.close()
    state = statuses(db)
    assert state["silent"][0] == "offline", state["silent"]  # as the connection test says (unreachable)
    assert "refused" in state["unreachable"][1].lower()
    assert "no" in state["audio"][1].lower() and "video" in state["audio"][1].lower()
    log = caplog.text
    assert "Secret-123" not in log and "Secret-456" not in log
    assert "rtsp://admin:***@127.0.0.1:9/live" in log
    assert "check that the camera is powered" in log  # says what to do
    assert "carries no H.264/H.265 video" in log
    assert not seg_rows(db, "unreachable") and not seg_rows(db, "audio")


def seg_rows(db: Database, code: str) -> list[Segment]:
    with db.session() as s:
        return list(s.scalars(select(Segment).join(Camera).where(Camera.code == code).order_by(Segment.start_at)))


def test_segments_cover_the_recording_without_gaps(settings: Settings, db: Database, simulator: Any) -> None:
    sup = start_supervisor(settings, db, [{"code": "cam-01", "name": "A", "main_url": simulator.main_url(1)}])
    started = dt.datetime.now(dt.UTC)
    time.sleep(14)
    sup.stop()
    stopped = dt.datetime.now(dt.UTC)
    rows = seg_rows(db, "cam-01")
    assert len(rows) >= 3
    with db.session() as s:
        cam = s.scalars(select(Camera)).one()
    assert cam.status == "online" and cam.fps is not None and 10 <= cam.fps <= 20  # the simulator sends 15
    assert cam.bitrate_kbps and cam.bitrate_kbps > 50
    assert cam.last_frame_at is not None and (stopped - cam.last_frame_at).total_seconds() < 4
    seg_s = settings.ingest.segment_seconds
    for a, b in zip(rows, rows[1:]):
        assert (b.start_at - a.end_at).total_seconds() < 1.5, "consecutive segments must touch"
        assert (a.end_at - a.start_at).total_seconds() <= seg_s + 1.5
    covered = (rows[-1].end_at - rows[0].start_at).total_seconds()
    assert covered >= (stopped - started).total_seconds() - 2 * seg_s
    assert not list(Path(settings.ingest.spool_dir, "cam-01").glob("*.ts")), "spool emptied after upload"
    store = LocalObjectStore(settings.objectstore.path)
    for row in rows:
        assert store.sha256(row.object_key) == row.sha256
        named = SpoolSegment.from_path(Path("cam-01", row.object_key.rsplit("/", 1)[-1]))
        assert row.object_key == named.object_key  # segments/<camera>/<yyyy>/<mm>/<dd>/<hh>/<start>.ts
        assert abs((named.start_at - row.start_at).total_seconds()) < 2.5  # the name holds the open second


def test_leftover_spool_files_are_uploaded_at_start(settings: Settings, db: Database, simulator: Any,
                                                     tmp_path: Path) -> None:
    """A previous run left two closed segments and one undecodable stub behind (power cut)."""
    import subprocess

    spool = Path(settings.ingest.spool_dir, "cam-09")
    spool.mkdir(parents=True)
    for name in ("20261122T010000Z.ts", "20261122T010004Z.ts"):
        subprocess.run(["ffmpeg", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", simulator.sub_url(1),
                        "-t", "2", "-c", "copy", "-f", "mpegts", str(spool / name)], check=True, timeout=30)
    (spool / "20261122T010008Z.ts").write_bytes(b"\x47" + bytes(187))  # one TS packet, no video
    assert probe_duration(spool / "20261122T010000Z.ts") > 1.0
    # the camera itself is unreachable now: leftovers must still go up
    sup = start_supervisor(settings, db, [{"code": "cam-09", "name": "B", "main_url": "rtsp://127.0.0.1:9/x"}])
    sup.stop()
    assert [r.object_key.rsplit("/", 1)[-1] for r in seg_rows(db, "cam-09")] == [
        "20261122T010000Z.ts", "20261122T010004Z.ts"]
    assert (spool / "unreadable" / "20261122T010008Z.ts").exists(), "unreadable footage is kept aside, not deleted"


def test_new_recordings_start_with_segments_that_abut(tmp_path: Path, simulator: Any,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """ffmpeg used to write the ~1.5 s of frames it read while probing at once, so a new recording's 2 s first
    segment could close within the wall-clock second it opened in; the next segment got the same name, ffmpeg
    overwrote the first, and the timeline had a ~2 s hole after it (or an object holding other footage than its
    row says). Six recordings start a sixth of a second apart, so some of them start late in a second."""
    caplog.set_level(logging.ERROR, logger="ingest")
    settings = make_settings(tmp_path, ingest={"segment_seconds": 2})
    db = Database(settings.database.url)
    db.prepare()
    urls = [simulator.main_url(i) for i in (1, 2, 3)] + [simulator.sub_url(i) for i in (1, 2, 3)]
    cipher = CredentialCipher(settings.security.credentials_key.get_secret_value())
    with db.session() as s:
        import_inventory(session=s, inventory=inventory(
            [{"code": f"cam-{n}", "name": f"C{n}", "main_url": url} for n, url in enumerate(urls, 1)]), cipher=cipher)
        sources = camera_sources(session=s, cipher=cipher)
    store = LocalObjectStore(settings.objectstore.path)
    sup = IngestSupervisor(sources[:1], ingest=settings.ingest, detect=settings.detect, db=db, store=store,
                           read_frames=False)
    sup.start()
    try:
        for source in sources[1:]:
            time.sleep(1 / 6)
            sup.add_source(source)
        wait_for(lambda: all(len(seg_rows(db, s.code)) >= 3 for s in sources), 40, "three segments of every camera")
    finally:
        sup.stop()
    for source in sources:
        rows = seg_rows(db, source.code)
        for a, b in zip(rows, rows[1:]):
            gap = (b.start_at - a.end_at).total_seconds()
            assert abs(gap) <= 0.05, f"{source.code}: {gap:+.3f} s between {a.object_key} and {b.object_key}"
        for row in rows:
            path = Path(settings.objectstore.path, row.object_key)
            assert store.sha256(row.object_key) == row.sha256, f"{row.object_key} was overwritten after its upload"
            span = (row.end_at - row.start_at).total_seconds()
            assert abs(probe_duration(path) - span) <= 0.15, f"{row.object_key} holds other footage than its span"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    db.dispose()
