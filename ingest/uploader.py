"""SegmentUploader: moves closed spool segments to the object store and indexes them; deletes only after success."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from config.settings import IngestConfig
from ingest.errors import SegmentError
from ingest.segments import SegmentSpan, SpoolSegment, probe_duration, read_span, sidecar_path
from storage.db import Database
from storage.errors import ObjectStoreError, StorageError
from storage.models import Segment
from storage.objectstore import ObjectStore
from storage.repo.cameras import touch_camera_segment
from storage.repo.leases import Fence, LeaseLost, check_fence
from storage.repo.segments import add_segment

logger = logging.getLogger(__name__)

QUARANTINE = "unreadable"
FENCED = "fenced"  # segments another worker's lease forbids this one to upload


class SegmentUploader:
    """One thread for all cameras of this node. `is_recording(code)` says whether a recorder still writes the
    camera's newest file; when it does not (stopped, crashed, or a previous run's leftovers) every file is closed."""

    def __init__(
        self, *, spool_dir: Path, store: ObjectStore, db: Database, config: IngestConfig,
        camera_ids: dict[str, int], is_recording: Callable[[str], bool],
        fence: Callable[[int], Fence] | None = None,
    ) -> None:
        self.spool_dir = spool_dir
        self.store = store
        self.db = db
        self.config = config
        self.camera_ids = camera_ids
        self._is_recording = is_recording
        self.fence = fence  # with several workers: the camera's lease this node was granted (None: one worker)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="uploader", daemon=True)
        self._backoff = config.upload_interval_s
        self.store_available = True

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.upload_ready(interruptible=True)
                self._backoff = self.config.upload_interval_s
                self.store_available = True
            except (ObjectStoreError, StorageError) as exc:
                self.store_available = False
                self._backoff = min(self._backoff * 2, self.config.upload_backoff_max_s)
                logger.warning("upload paused: %s (retrying in %.0f s; segments stay in %s)", exc, self._backoff,
                               self.spool_dir)
            except Exception:  # a worker thread must not die silently; keep going after logging
                logger.exception("uploader failed unexpectedly; retrying")
                self._backoff = min(self._backoff * 2, self.config.upload_backoff_max_s)
            self._stop.wait(self._backoff)

    def closed_segments(self, code: str) -> list[Path]:
        """Files ffmpeg has finished: those with a span sidecar, and all of them when no recorder writes there
        (stopped, crashed, or leftovers of an earlier run)."""
        files = sorted(p for p in (self.spool_dir / code).glob("*.ts") if p.is_file())
        if not self._is_recording(code):
            return files
        closed = []
        for path in files:
            if read_span(path) is not None or (path is not files[-1] and time.time() - path.stat().st_mtime > 60):
                closed.append(path)
        return closed

    def upload_ready(self, *, interruptible: bool = False) -> int:
        """Upload every closed segment, oldest first per camera; returns how many went up."""
        done = 0
        for code, camera_id in list(self.camera_ids.items()):  # cameras come and go while this runs
            for path in self.closed_segments(code):
                if interruptible and self._stop.is_set():
                    return done
                done += self._upload_one(camera_id, path)
        return done

    def _span_from_name(self, camera_id: int, segment: SpoolSegment) -> SegmentSpan:
        """For a file ffmpeg never listed (killed hard): the name's second and the media's own duration. The name
        runs up to ~1 s late, so a start just before the previous segment's end is moved to that end."""
        duration = probe_duration(segment.path, ffprobe=self.config.ffprobe)
        start = segment.start_at.timestamp()
        with self.db.session() as session:
            previous_end = session.scalar(select(func.max(Segment.end_at)).where(
                Segment.camera_id == camera_id, Segment.start_at < segment.start_at))
        if previous_end is not None and start - 2.0 < previous_end.timestamp() < start + 2.0:
            start = previous_end.timestamp()
        return SegmentSpan(start=start, end=start + duration)

    def _may_write(self, camera_id: int, path: Path, end_at: dt.datetime) -> bool:
        """Checked before the upload, so a fenced node never overwrites another node's object either. A refused
        segment is kept aside (never deleted): it overlaps what the camera's present holder records."""
        assert self.fence is not None
        try:
            with self.db.session() as session:
                check_fence(session=session, fence=self.fence(camera_id), ends_at=end_at)
            return True
        except LeaseLost as exc:
            target = path.parent / FENCED / path.name
            target.parent.mkdir(exist_ok=True)
            path.replace(target)
            sidecar_path(path).unlink(missing_ok=True)
            logger.error("segment %s kept aside in %s, not uploaded: %s", path.name, target.parent, exc)
            return False

    def _upload_one(self, camera_id: int, path: Path) -> int:
        if path.stat().st_size == 0:
            path.unlink()  # ffmpeg opened it but never wrote a byte: nothing to keep
            return 0
        try:
            segment = SpoolSegment.from_path(path)
            span = read_span(path) or self._span_from_name(camera_id, segment)
        except SegmentError as exc:
            # Keep what cannot be read (never delete footage we could not check), but out of the upload queue.
            target = path.parent / QUARANTINE / path.name
            target.parent.mkdir(exist_ok=True)
            path.replace(target)
            logger.error("segment kept aside in %s: %s", target.parent, exc)
            return 0
        start_at = dt.datetime.fromtimestamp(span.start, dt.UTC)
        end_at = dt.datetime.fromtimestamp(span.end, dt.UTC)
        if self.fence is not None and not self._may_write(camera_id, path, end_at):
            return 0
        stored = self.store.put_file(segment.object_key, path, content_type="video/mp2t")
        with self.db.session() as session:
            if self.fence is not None:  # again, holding the lease row until the segment row is committed
                check_fence(session=session, fence=self.fence(camera_id), ends_at=end_at)
            add_segment(session=session, camera_id=camera_id, start_at=start_at, end_at=end_at,
                        object_key=stored.key, size=stored.size, sha256=stored.sha256)
            seconds = span.end - span.start
            touch_camera_segment(session=session, camera_id=camera_id, at=end_at,
                                 bitrate_kbps=stored.size * 8 / 1000 / seconds if seconds > 0 else None)
        path.unlink()  # only now: the store confirmed the size and the row is committed
        sidecar_path(path).unlink(missing_ok=True)
        logger.debug("uploaded %s (%d bytes, %.1f s)", stored.key, stored.size, span.end - span.start)
        return 1
