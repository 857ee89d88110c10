"""ClipWorker: builds each finished event's clip once its segments are recorded, by stream copy."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from config.settings import DetectConfig, IngestConfig
from storage.clips import ClipError, SegmentRef, build_clip
from storage.db import Database
from storage.errors import ObjectStoreUnavailable
from storage.models import Segment
from storage.objectstore import ObjectStore
from storage.periodic import run_every
from storage.repo.events import events_waiting_for_clip, get_event, set_event_clip
from storage.repo.leases import Fence, LeaseLost, check_fence, unleased_camera_ids
from storage.repo.segments import segments_between

logger = logging.getLogger(__name__)


class ClipWorker:
    """Builds clips for finished events once their segments are uploaded (or the wait has run out)."""

    def __init__(self, *, db: Database, store: ObjectStore, detect: DetectConfig, ingest: IngestConfig,
                 workdir: Path, interval_s: float = 1.0,
                 camera_ids: Callable[[], set[int] | None] = lambda: None,
                 fence: Callable[[int], Fence] | None = None) -> None:
        self.db, self.store, self.detect, self.ingest = db, store, detect, ingest
        self.fence = fence  # several workers: a clip is stored and recorded only under the camera's lease
        # several workers: each builds the clips of the cameras it records (None: every camera)
        self.camera_ids = camera_ids
        self.workdir = workdir
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clips", daemon=True)

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        run_every(self.interval_s, self.build_ready, stop=self._stop, logger=logger, at_once=True,
                  expected=ObjectStoreUnavailable, not_done="clips waiting for the object store",
                  failed="clip worker failed unexpectedly")

    def build_ready(self) -> int:
        built = 0
        with self.db.session() as session:
            mine = self.camera_ids()
            if mine is not None:  # and the cameras nobody records now (disabled with an event waiting, say)
                mine = mine | unleased_camera_ids(session=session)
            pending = [(e.id, e.camera_id, e.start_at, e.end_at) for e in events_waiting_for_clip(session=session)
                       if mine is None or e.camera_id in mine]
        for event_id, camera_id, start_at, end_at in pending:
            assert end_at is not None
            clip_start = start_at - dt.timedelta(seconds=self.detect.pre_roll_s)
            clip_end = end_at + dt.timedelta(seconds=self.detect.post_roll_s)
            with self.db.session() as session:
                recorded_until = session.scalar(select(func.max(Segment.end_at)).where(Segment.camera_id == camera_id))
                waited = (dt.datetime.now(dt.UTC) - clip_end).total_seconds()
                if (recorded_until is None or recorded_until < clip_end) and waited < self.detect.clip_wait_s:
                    continue
                refs = [SegmentRef.from_row(s) for s in
                        segments_between(session=session, camera_id=camera_id, start=clip_start, end=clip_end)]
                code = get_event(session=session, event_id=event_id).camera.code
            try:
                built += self._build(event_id, camera_id, code, refs, clip_start, clip_end)
            except LeaseLost as exc:
                logger.warning("event %d: clip left to the camera's present worker: %s", event_id, exc)
        return built

    def _check_fence(self, camera_id: int) -> None:
        if self.fence is not None:
            with self.db.session() as session:
                check_fence(session=session, fence=self.fence(camera_id))

    def _build(self, event_id: int, camera_id: int, code: str, refs: list[SegmentRef], start: dt.datetime,
               end: dt.datetime) -> int:  # fmt: skip
        out = self.workdir / f"event-{event_id}.mp4"
        self._check_fence(camera_id)  # before the upload: a clip already tagged as evidence is never overwritten
        try:
            clip = build_clip(store=self.store, segments=refs, start=start, end=end, out=out,
                              ffmpeg=self.ingest.ffmpeg, ffprobe=self.ingest.ffprobe)
            stored = self.store.put_file(f"clips/{code}/{event_id}.mp4", clip.path, content_type="video/mp4")
        except ClipError as exc:
            logger.error("event %d: no clip: %s", event_id, exc)
            with self.db.session() as session:
                set_event_clip(session=session, event_id=event_id, status="failed")
            return 0
        finally:
            out.unlink(missing_ok=True)
        with self.db.session() as session:
            if self.fence is not None:
                check_fence(session=session, fence=self.fence(camera_id))
            set_event_clip(session=session, event_id=event_id, status="ready", clip_key=stored.key,
                           sha256=stored.sha256, clip_start_at=clip.start_at, clip_end_at=clip.end_at)
        logger.info("event %d: clip %s (%.1f s)", event_id, stored.key, clip.duration)
        return 1
