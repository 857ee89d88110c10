"""Wiring: builds storage, ingest, detect and the web app from one Settings object. Nothing else knows the parts."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from config import Settings, load_inventory
from detect.events import ClipWorker, EventWriter
from detect.worker import DetectWorker
from ingest.retention import RetentionWorker
from ingest.supervisor import IngestSupervisor
from storage.credentials import CredentialCipher
from storage.db import Database
from storage.objectstore import ObjectStore, open_object_store
from storage.repo.cameras import camera_sources, import_inventory

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
        return import_inventory(session=session, inventory=inventory, cipher=cipher_for(settings))


class Worker:
    """Ingest + detection for every enabled camera in the database, in this process."""

    def __init__(self, settings: Settings, db: Database, store: ObjectStore) -> None:
        with db.session() as session:
            sources = camera_sources(session=session, cipher=cipher_for(settings))
        self.ingest = IngestSupervisor(sources, ingest=settings.ingest, detect=settings.detect, db=db, store=store)
        self.detectors = [
            DetectWorker(self.ingest.readers[s.code],
                         EventWriter(camera_id=s.camera_id, camera_code=s.code, db=db, store=store), settings.detect)
            for s in sources
        ]
        self.clips = ClipWorker(db=db, store=store, detect=settings.detect, ingest=settings.ingest,
                                workdir=Path(settings.data_dir) / "work")
        self.retention = RetentionWorker(db=db, store=store, config=settings.ingest)

    def start(self) -> None:
        self.ingest.start()
        for detector in self.detectors:
            detector.start()
        self.clips.start()
        self.retention.start()

    def stop(self) -> None:
        self.retention.stop()
        self.ingest.stop()
        for detector in self.detectors:
            detector.stop()
        self.clips.stop()


def run_worker(settings: Settings) -> None:
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
