"""Wiring: builds storage, ingest, detect and the web app from one Settings object. Nothing else knows the parts."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import cv2

from config import Settings, load_inventory
from detect.clipworker import ClipWorker
from detect.events import EventWriter
from detect.motion import MotionDetector
from detect.objects import DetectorUnavailable, ObjectDetector  # noqa: E402
from detect.zones import ZoneMap
from detect.worker import DetectWorker
from ingest.alerts import CameraAlertWorker
from ingest.frames import FrameReader
from ingest.retention import RetentionWorker
from ingest.supervisor import IngestSupervisor
from storage.credentials import CredentialCipher
from storage.db import Database
from storage.objectstore import ObjectStore, open_object_store
from storage.errors import StorageError
from storage.repo.cameras import CameraSource, camera_sources, import_inventory
from storage.repo.health import raise_alert, resolve_alert

logger = logging.getLogger(__name__)


def open_storage(settings: Settings) -> tuple[Database, ObjectStore]:
    db = Database(settings.database.url, connect_timeout_s=settings.database.connect_timeout_s)
    db.prepare()
    return db, open_object_store(settings.objectstore)


def cipher_for(settings: Settings) -> CredentialCipher:
    return CredentialCipher(settings.security.credentials_key.get_secret_value())


def import_inventory_file(settings: Settings, db: Database, path: Path) -> list[str]:
    inventory = load_inventory(path)
    with db.session() as session:
        return import_inventory(session=session, inventory=inventory, cipher=cipher_for(settings),
                                actor=f"inventory file {path.name}"[:100])


def cameras_to_run(settings: Settings, db: Database) -> list[CameraSource]:
    """The cameras this node records and watches. Today: every enabled camera in the database; issue 7 narrows
    it to the cameras this node holds a lease on."""
    with db.session() as session:
        return camera_sources(session=session, cipher=cipher_for(settings))


class Worker:
    """Ingest + detection for every camera `cameras_to_run` names, in this process. The list is read again every
    ingest.camera_refresh_seconds: cameras added, changed, disabled or retired start or stop without a restart."""

    def __init__(self, settings: Settings, db: Database, store: ObjectStore) -> None:
        self.settings, self.db, self.store = settings, db, store
        sources = cameras_to_run(settings, db)
        self.sources = {s.code: s for s in sources}
        self.ingest = IngestSupervisor(sources, ingest=settings.ingest, detect=settings.detect, db=db, store=store)
        self.objects = load_objects(settings, db, node=self.ingest.node)
        self.detectors = {s.code: self._detector(s, self.ingest.readers[s.code]) for s in sources}
        self.clips = ClipWorker(db=db, store=store, detect=settings.detect, ingest=settings.ingest,
                                workdir=Path(settings.data_dir) / "work")
        self.retention = RetentionWorker(db=db, store=store, config=settings.ingest)
        # camera-down alerts for the cameras this worker records (read at each check: the list changes)
        self.alerts = CameraAlertWorker(db, settings.alerts, interval_s=settings.ingest.health_interval_s,
                                        camera_ids=lambda: {s.camera_id for s in list(self.sources.values())})
        self._stop = threading.Event()
        self._refresh_thread = threading.Thread(target=self._refresh_loop, name="camera-refresh", daemon=True)

    def _detector(self, source: CameraSource, reader: FrameReader) -> DetectWorker:
        writer = EventWriter(camera_id=source.camera_id, camera_code=source.code, db=self.db, store=self.store,
                             zones=ZoneMap(source.detection.zones))
        return DetectWorker(reader, writer, self.settings.detect,
                            motion=MotionDetector(self.settings.detect, source.detection), objects=self.objects)

    def start(self) -> None:
        self.ingest.start()
        for detector in self.detectors.values():
            detector.start()
        self.clips.start()
        self.retention.start()
        self.alerts.start()
        self._refresh_thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._refresh_thread.is_alive():
            self._refresh_thread.join(60)  # a refresh under way finishes (its cameras start or stop cleanly)
        self.alerts.stop()
        self.retention.stop()
        self.ingest.stop()
        for detector in self.detectors.values():
            detector.stop()
        self.clips.stop()

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.settings.ingest.camera_refresh_seconds):
            try:
                self.refresh()
            except StorageError as exc:
                logger.warning("camera list not refreshed (cameras keep running as they are): %s", exc)
            except Exception:
                logger.exception("camera list refresh failed; retrying")

    def refresh(self) -> None:
        """Bring the running cameras in line with `cameras_to_run`: stop the ones gone or changed (their segment
        is closed and uploaded, their open event ended), start the new or changed ones."""
        wanted = {s.code: s for s in cameras_to_run(self.settings, self.db)}
        for code in [c for c, s in self.sources.items() if wanted.get(c) != s]:
            if self._stop.is_set():
                return
            self.ingest.remove_source(code)
            detector = self.detectors.pop(code, None)
            if detector is not None:
                detector.stop()
            del self.sources[code]
            logger.info("camera %s stopped (%s)", code, "changed" if code in wanted else "disabled or retired")
        for code, source in wanted.items():
            if code in self.sources or self._stop.is_set():
                continue
            reader = self.ingest.add_source(source)
            if reader is not None:
                detector = self._detector(source, reader)
                detector.start()
                self.detectors[code] = detector
            self.sources[code] = source
            logger.info("camera %s started", code)


def load_objects(settings: Settings, db: Database, *, node: str) -> ObjectDetector | None:
    """The object model, shared by every camera; without it motion events go on and an alert says why."""
    config = settings.detect
    try:
        detector = ObjectDetector.load(config.model_path, imgsz=config.imgsz, min_scores=config.min_scores)
    except DetectorUnavailable as exc:
        logger.warning("object detection is OFF: %s. Motion events go on.", exc)
        with db.session() as session:
            raise_alert(session=session, code="detector_unavailable", level="warning", node=node,
                        message=f"object detection is off: {exc}. Motion events go on.")
        return None
    with db.session() as session:
        resolve_alert(session=session, code="detector_unavailable", node=node)
    logger.info("object model %s loaded", config.model_path)
    return detector


def use_one_opencv_thread() -> None:
    """Each camera already has its own decode and detect threads; OpenCV's own pool on top costs more CPU than it
    saves on frames this small (measured on 2 cores: tests/bench/README.md)."""
    cv2.setNumThreads(1)


def run_worker(settings: Settings) -> None:
    use_one_opencv_thread()
    db, store = open_storage(settings)
    worker = Worker(settings, db, store)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker.start()
    stop.wait()
    logger.info("stopping: closing segments and uploading what is left")
    worker.stop()
    db.dispose()


def run_web(settings: Settings) -> None:
    import uvicorn

    from review_ui.app import create_app

    db, store = open_storage(settings)
    app = create_app(settings, db=db, store=store)
    uvicorn.run(app, host=settings.web.host, port=settings.web.port, log_level="info")
