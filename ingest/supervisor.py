"""IngestSupervisor: runs every camera's recorder and frame reader plus the uploader, and keeps health current."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from config.settings import DetectConfig, IngestConfig
from ingest.frames import FrameReader
from ingest.recorder import SegmentRecorder, SourceStatus
from ingest.uploader import SegmentUploader
from storage.db import Database
from storage.errors import StorageError
from storage.objectstore import ObjectStore
from storage.repo.cameras import CameraSource, set_camera_status

logger = logging.getLogger(__name__)


class IngestSupervisor:
    def __init__(self, sources: list[CameraSource], *, ingest: IngestConfig, detect: DetectConfig, db: Database,
                 store: ObjectStore, read_frames: bool = True) -> None:
        self.db = db
        self.spool_dir = Path(ingest.spool_dir)
        self.health: dict[int, SourceStatus] = {}
        self._lock = threading.Lock()
        self.recorders = {s.code: SegmentRecorder(s, spool_dir=self.spool_dir, config=ingest, on_status=self._status)
                          for s in sources}
        self.readers = {s.code: FrameReader(s, ingest=ingest, detect=detect) for s in sources} if read_frames else {}
        self.uploader = SegmentUploader(
            spool_dir=self.spool_dir, store=store, db=db, config=ingest,
            camera_ids={s.code: s.camera_id for s in sources},
            is_recording=lambda code: self.recorders[code].recording,
        )

    def _status(self, report: SourceStatus) -> None:
        """Keep the newest figures in memory; write the database only when the state itself changes."""
        with self._lock:
            previous = self.health.get(report.camera_id)
            self.health[report.camera_id] = report
            if previous is not None and (previous.status, previous.detail) == (report.status, report.detail):
                return
            try:
                with self.db.session() as session:
                    set_camera_status(session=session, camera_id=report.camera_id, status=report.status,
                                      detail=report.detail)
            except StorageError as exc:
                logger.warning("camera health not saved: %s", exc)

    def start(self) -> None:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        # Leftovers of a previous run (crash, power cut) go up first: no recorder is writing them.
        try:
            self.uploader.upload_ready()
        except StorageError as exc:
            logger.warning("leftover segments wait in the spool: %s", exc)
        for recorder in self.recorders.values():
            recorder.start()
        for reader in self.readers.values():
            reader.start()
        self.uploader.start()
        logger.info("ingest started for %d cameras", len(self.recorders))

    def stop(self) -> None:
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
