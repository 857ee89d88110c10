"""Wiring: builds storage, ingest, detect and the web app from one Settings object. Nothing else knows the parts."""

from __future__ import annotations

import logging
import signal
import threading
import time
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
from ingest.leases import LeaseKeeper
from ingest.retention import RetentionWorker
from ingest.spool_lock import SpoolLock
from ingest.supervisor import IngestSupervisor
from storage.credentials import CredentialCipher
from storage.db import Database
from storage.objectstore import ObjectStore, open_object_store
from storage.periodic import run_every
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


def cameras_to_run(settings: Settings, db: Database, camera_ids: set[int]) -> list[CameraSource]:
    """The enabled cameras among `camera_ids` (the ones this node holds a lease on)."""
    with db.session() as session:
        return [s for s in camera_sources(session=session, cipher=cipher_for(settings)) if s.camera_id in camera_ids]


class Worker:
    """Ingest + detection, in this process, for the cameras this node holds a lease on (one worker: all of them;
    several: a fair share each, and a dead worker's cameras move to the others within one lease period). The list
    is read again every ingest.camera_refresh_seconds: cameras added, changed, disabled or retired start or stop
    without a restart."""

    def __init__(self, settings: Settings, db: Database, store: ObjectStore) -> None:
        self.settings, self.db, self.store = settings, db, store
        # first: a second worker on this spool (and so, usually, this node name) must not touch the leases
        self.spool_lock = SpoolLock(Path(settings.ingest.spool_dir), node=settings.node_name)
        # granted for half the lease period: expiry (a half) + the others' next look (a sixth) + connecting leaves a
        # dead worker's cameras unrecorded for less than the whole period
        self.leases = LeaseKeeper(db, node=settings.node_name, period_s=settings.ingest.lease_seconds / 2)
        self.leases.start()
        # Workers started together should see each other before taking cameras, or the first would take them all
        # and hand most back a moment later (each hand-over costs a few seconds of footage). A worker that has
        # never had company (one box) starts at once.
        if self.leases.others_known():
            time.sleep(min(2.0, settings.ingest.lease_seconds / 6))
        running, self._give_back = self.leases.balance()
        sources = cameras_to_run(settings, db, running)
        self.sources = {s.code: s for s in sources}
        self.ingest = IngestSupervisor(sources, ingest=settings.ingest, detect=settings.detect, db=db, store=store,
                                       node=settings.node_name, fence=self.leases.fence)
        self.objects = load_objects(settings, db, node=self.ingest.node)
        self.detectors = {s.code: self._detector(s, self.ingest.readers[s.code]) for s in sources}
        self.clips = ClipWorker(db=db, store=store, detect=settings.detect, ingest=settings.ingest,
                                workdir=Path(settings.data_dir) / "work" / settings.node_name,
                                camera_ids=self._camera_ids, fence=self.leases.fence)
        self.retention = RetentionWorker(db=db, store=store, config=settings.ingest)
        # camera-down alerts for the cameras this worker records (read at each check: the list changes)
        self.alerts = CameraAlertWorker(db, settings.alerts, interval_s=settings.ingest.health_interval_s,
                                        camera_ids=self._camera_ids)
        self._stop = threading.Event()
        self._refresh_thread = threading.Thread(target=self._refresh_loop, name="camera-refresh", daemon=True)

    def _camera_ids(self) -> set[int]:
        """The cameras this worker records now (its clips and alerts are its own; the others' are theirs)."""
        return {s.camera_id for s in list(self.sources.values())}

    def _detector(self, source: CameraSource, reader: FrameReader) -> DetectWorker:
        writer = EventWriter(camera_id=source.camera_id, camera_code=source.code, db=self.db, store=self.store,
                             zones=ZoneMap(source.detection.zones),
                             fence=lambda: self.leases.fence(source.camera_id))
        return DetectWorker(reader, writer, self.settings.detect,
                            motion=MotionDetector(self.settings.detect, source.detection), objects=self.objects)

    def start(self) -> None:
        self.ingest.start()
        self.leases.give_back(self._give_back)
        for detector in self.detectors.values():
            detector.start()
        self.clips.start()
        self.retention.start()
        self.alerts.start()
        self.leases.ready()  # from now on the other workers may hand cameras to this one
        self._refresh_thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._refresh_thread.is_alive():
            self._refresh_thread.join(60)  # a refresh under way finishes (its cameras start or stop cleanly)
        self.alerts.stop()
        self.retention.stop()
        self.ingest.stop()
        for detector in self.detectors.values():
            detector.stop(wait=False)  # all at once, then wait: each closes its open event
        for detector in self.detectors.values():
            detector.stop()
        self.clips.stop()
        self.leases.stop()  # last: every segment is closed and uploaded, so the next holder starts after them
        self.spool_lock.release()

    def _refresh_loop(self) -> None:
        interval = min(self.settings.ingest.camera_refresh_seconds, self.settings.ingest.lease_seconds / 6)
        run_every(interval, self.refresh, stop=self._stop, logger=logger,
                  not_done="camera list not refreshed (cameras keep running as they are)",
                  failed="camera list refresh failed")

    def refresh(self) -> None:
        """Bring the running cameras in line with `cameras_to_run`: stop the ones gone or changed (their segment
        is closed and uploaded, their open event ended), start the new or changed ones."""
        running, give_back = self.leases.balance()
        wanted = {s.code: s for s in cameras_to_run(self.settings, self.db, running)}
        # leases of cameras that are no longer to be recorded at all (disabled, retired) go back too
        recordable = {s.camera_id for s in wanted.values()}
        give_back.update({cid: self.leases.fence(cid).token for cid in running - recordable
                          if self.leases.fence(cid).token is not None})
        for code in [c for c, s in self.sources.items() if wanted.get(c) != s]:
            if self._stop.is_set():
                return
            self.ingest.remove_source(code)
            camera_id = self.sources[code].camera_id
            if camera_id in give_back:
                # its last segment is closed: once it is uploaded the next worker may start, not after detection
                # has wound down (seconds; what detection still writes is fenced, the next worker closes an open
                # event). Released before its upload, the segment would end after the next worker took over.
                self.ingest.wait_for_upload(code, timeout=2 * self.settings.ingest.segment_seconds + 5)
                self.leases.give_back({camera_id: give_back.pop(camera_id)})
            detector = self.detectors.pop(code, None)
            if detector is not None:
                detector.stop()
            why = "changed" if code in wanted else "disabled, retired, given to another worker or lease lost"
            del self.sources[code]
            logger.info("camera %s stopped (%s)", code, why)
        self.leases.give_back(give_back)  # the ones that were not running here
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
