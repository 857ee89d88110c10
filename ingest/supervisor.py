"""IngestSupervisor: runs every camera's recorder and frame reader plus the uploader, and keeps health current."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from config.settings import DetectConfig, IngestConfig
from ingest.frames import FrameReader
from ingest.recorder import SegmentRecorder, SourceStatus
from ingest.segments import RunTimeline
from ingest.uploader import SegmentUploader
from storage.db import Database
from storage.errors import StorageError
from storage.models import utcnow
from storage.objectstore import ObjectStore
from storage.periodic import run_every
from storage.repo.cameras import CameraSource, camera_ids_by_code, set_camera_status
from storage.repo.events import close_offline_event, open_offline_event
from storage.repo.health import raise_alert, resolve_alert, save_camera_figures
from storage.repo.leases import Fence, LeaseLost, check_fence

logger = logging.getLogger(__name__)
NOT_RECORDING = frozenset({"offline", "auth_failed", "unsupported_stream", "disk_full", "error"})


def spool_bytes(spool_dir: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(spool_dir):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                pass  # uploaded and removed while we walked
    return total


class IngestSupervisor:
    def __init__(self, sources: list[CameraSource], *, ingest: IngestConfig, detect: DetectConfig, db: Database,
                 store: ObjectStore, read_frames: bool = True, node: str | None = None,
                 fence: Callable[[int], Fence] | None = None) -> None:
        self.db = db
        self.fence = fence  # several workers: writes for a camera need its lease (storage.repo.leases)
        self.config = ingest
        self.node = node or socket.gethostname()
        self.spool_dir = Path(ingest.spool_dir)
        self.health: dict[int, SourceStatus] = {}
        self.last_frame: dict[int, dt.datetime] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._health_thread = threading.Thread(target=self._health_loop, name="health", daemon=True)
        self.detect_config = detect
        self.read_frames = read_frames
        self.recorders = {s.code: SegmentRecorder(s, spool_dir=self.spool_dir, config=ingest, on_status=self._status)
                          for s in sources}
        self.readers = {s.code: FrameReader(s, ingest=ingest, detect=detect) for s in sources} if read_frames else {}
        # A camera removed while running stays listed here, so the segment its recorder closed still goes up.
        self.uploader = SegmentUploader(
            spool_dir=self.spool_dir, store=store, db=db, config=ingest,
            camera_ids={s.code: s.camera_id for s in sources},
            is_recording=lambda code: (recorder := self.recorders.get(code)) is not None and recorder.recording,
            fence=fence,
        )

    def _status(self, report: SourceStatus) -> None:
        """Keep the newest figures in memory; write the database only when the state itself changes. A camera that
        stops recording opens an offline period (from its last frame); recording again closes it."""
        now = utcnow()
        with self._lock:
            previous = self.health.get(report.camera_id)
            self.health[report.camera_id] = report
            if report.status == "online":
                self.last_frame[report.camera_id] = now
            if previous is not None and (previous.status, previous.detail) == (report.status, report.detail):
                return
            try:
                with self.db.session() as session:
                    if not self._ours(session, report.camera_id):
                        return
                    set_camera_status(session=session, camera_id=report.camera_id, status=report.status,
                                      detail=report.detail)
                    if report.status == "online":
                        closed = close_offline_event(session=session, camera_id=report.camera_id, until=now)
                        if closed is not None:
                            logger.info("camera %d records again after %.0f s offline", report.camera_id,
                                        (now - closed.start_at).total_seconds())
                    elif report.status in NOT_RECORDING:
                        open_offline_event(session=session, camera_id=report.camera_id,
                                           since=self.last_frame.get(report.camera_id, now), status=report.status,
                                           detail=report.detail)
            except StorageError as exc:
                logger.warning("camera health not saved: %s", exc)

    def _ours(self, session: Session, camera_id: int) -> bool:
        """May this worker write the camera's state? Always with one worker; with leases, while it holds one."""
        if self.fence is None:
            return True
        try:
            check_fence(session=session, fence=self.fence(camera_id))
            return True
        except LeaseLost:
            return False

    def _health_loop(self) -> None:
        run_every(self.config.health_interval_s, self.check_health, stop=self._stop, logger=logger,
                  not_done="health figures not saved", failed="health check failed")

    def check_health(self) -> None:
        """Save per-camera figures; raise or resolve the node's spool and store alerts."""
        with self._lock:
            figures = [(cid, r, self.last_frame.get(cid)) for cid, r in self.health.items()]
        used = spool_bytes(self.spool_dir)
        quota = self.config.spool_quota_gb * 1e9
        with self.db.session() as session:
            for camera_id, report, last_frame in figures:
                if not self._ours(session, camera_id):
                    continue
                online = report.status == "online"
                save_camera_figures(session=session, camera_id=camera_id, fps=report.fps if online else None,
                                    bitrate_kbps=report.bitrate_kbps if online else None, last_frame_at=last_frame)
            if used > quota:
                message = (f"spool {self.spool_dir} holds {used / 1e9:.2f} GB, over its {quota / 1e9:.2f} GB quota; "
                           "nothing is deleted: restore the object store connection or give the spool more disk")
                if raise_alert(session=session, code="spool_quota", level="critical", node=self.node,
                               message=message):
                    logger.critical(message)
            elif resolve_alert(session=session, code="spool_quota", node=self.node):
                logger.warning("spool back under its quota (%.2f GB)", used / 1e9)
            if not self.uploader.store_available:
                if raise_alert(session=session, code="store_unavailable", level="warning", node=self.node,
                               message="the object store does not answer; segments wait in the spool"):
                    logger.warning("object store unavailable: segments wait in %s", self.spool_dir)
            elif resolve_alert(session=session, code="store_unavailable", node=self.node):
                logger.warning("object store reachable again; uploading the spool")

    def start(self) -> None:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        # Leftovers of a previous run (crash, power cut) are placed on the timeline now and go up first, in the
        # uploader's thread: recording starts at once, not after them (a camera handed to this worker waits less).
        # Cameras this node no longer records (another worker took them while it was down) have leftovers too;
        # fencing lets through what was recorded before the other worker took over.
        for code in [*self.recorders, *self._adopt_leftovers()]:
            self._recover(code)
        for recorder in self.recorders.values():
            recorder.start()
        for reader in self.readers.values():
            reader.start()
        self.uploader.start()
        self._health_thread.start()
        logger.info("ingest started for %d cameras", len(self.recorders))

    def _recover(self, code: str) -> None:
        if (self.spool_dir / code).is_dir() and (placed := RunTimeline.recover(self.spool_dir / code)):
            logger.info("camera %s: placed %d segment(s) left by the previous run", code, placed)

    def _adopt_leftovers(self) -> list[str]:
        codes = [d.name for d in self.spool_dir.iterdir()
                 if d.is_dir() and d.name not in self.uploader.camera_ids and any(d.glob("*.ts"))]
        if not codes:
            return []
        try:
            with self.db.session() as session:
                ids = camera_ids_by_code(session=session, codes=codes)
        except StorageError as exc:
            logger.warning("leftover segments of %s wait in the spool: %s", ", ".join(codes), exc)
            return []
        for code in codes:
            if code in ids:
                self.uploader.camera_ids[code] = ids[code]
            else:
                logger.error("spool %s holds segments of camera %s, which is not in the database; kept there",
                             self.spool_dir, code)
        return [code for code in codes if code in ids]

    def add_source(self, source: CameraSource) -> FrameReader | None:
        """Start recording (and reading frames of) one more camera while running; returns its frame reader."""
        if source.code in self.recorders:
            raise ValueError(f"camera {source.code} is already running here")
        recorder = SegmentRecorder(source, spool_dir=self.spool_dir, config=self.config, on_status=self._status)
        reader = FrameReader(source, ingest=self.config, detect=self.detect_config) if self.read_frames else None
        recorder.start()  # listed only once started: a camera that failed to start is tried again next time
        self.uploader.camera_ids[source.code] = source.camera_id
        self.recorders[source.code] = recorder
        if reader is not None:
            reader.start()
            self.readers[source.code] = reader
        logger.info("camera %s added: recording", source.code)
        return reader

    def wait_for_upload(self, code: str, *, timeout: float) -> bool:
        """Wait until the camera's spool holds no segment (all uploaded); False when the time ran out (store down)."""
        deadline = time.monotonic() + timeout
        while any((self.spool_dir / code).glob("*.ts")):
            if time.monotonic() > deadline:
                logger.warning("camera %s: segments still wait for upload after %.0f s", code, timeout)
                return False
            time.sleep(0.1)
        return True

    def remove_source(self, code: str) -> None:
        """Stop one camera as stop() stops them all: ffmpeg closes its segment on SIGTERM, and the uploader then
        takes every file of it. Its health is no longer reported from here; an open offline period ends now."""
        reader = self.readers.pop(code, None)
        if reader is not None:
            reader.stop()
        recorder = self.recorders.pop(code, None)
        if recorder is None:
            return
        recorder.stop()
        camera_id = recorder.source.camera_id
        with self._lock:
            self.health.pop(camera_id, None)
            self.last_frame.pop(camera_id, None)
        try:
            with self.db.session() as session:
                if not self._ours(session, camera_id):
                    return  # another worker records it now: its state is that worker's to say
                set_camera_status(session=session, camera_id=camera_id, status="stopped",
                                  detail="not recorded: disabled, retired or changed")
                close_offline_event(session=session, camera_id=camera_id, until=utcnow())
        except StorageError as exc:
            logger.warning("camera %s: stopped state not saved: %s", code, exc)
        logger.info("camera %s removed: recording stopped", code)

    def stop(self) -> None:
        self._stop.set()
        for reader in self.readers.values():
            reader.stop()
        for recorder in self.recorders.values():
            recorder.stop()
        # Recorders are stopped: every spool file is now closed; upload what the store will take.
        self.uploader.stop()
        try:
            self.uploader.upload_ready()
        except StorageError as exc:
            logger.warning("segments left in the spool for the next start: %s", exc)
        self._health_thread.join(5)
        try:
            self.check_health()  # leave the alerts as they stand now, not as of the last interval
        except StorageError as exc:
            logger.warning("final health figures not saved: %s", exc)
