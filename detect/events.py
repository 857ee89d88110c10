"""EventWriter: one camera's motion periods, objects, zones and tamper become Event rows with the best snapshot."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from detect import labels
from detect.motion import MotionEnded, MotionResult, MotionStarted
from detect.tamper import TamperEnded, TamperStarted
from detect.zones import ZoneMap
from ingest.frames import Frame
from storage.db import Database
from storage.errors import StorageError
from storage.models import Event, Segment
from storage.objectstore import ObjectStore
from storage.repo.events import close_open_events, create_event, finish_event, get_event
from storage.repo.leases import Fence, check_fence

logger = logging.getLogger(__name__)
JPEG_QUALITY = 85
PROGRESS_EVERY_S = 1.0  # how often an open event's kind, labels and last motion are saved
RESUME_GRACE_S = 15.0  # an event whose motion was seen this recently is resumed by a restarted detector
Box = tuple[int, int, int, int]


class Detected(Protocol):
    label: str
    score: float
    box: Box


def utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def snapshot_jpeg(image: np.ndarray, boxes: Iterable[tuple[Box, str]]) -> bytes:
    drawn = image.copy()
    for (x, y, w, h), text in boxes:
        cv2.rectangle(drawn, (x, y), (x + w, y + h), (0, 0, 255), 2)
        if text:
            cv2.putText(drawn, text, (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 255), 1, cv2.LINE_AA)
    ok, data = cv2.imencode(".jpg", drawn, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


@dataclass
class _OpenEvent:
    event_id: int
    start: float
    last_seen: float
    scores: dict[str, float] = field(default_factory=dict)
    zones: set[str] = field(default_factory=set)
    # best picture: (rank, frame, boxes with captions); an object's score outranks any motion-only frame
    best: tuple[float, Frame, list[tuple[Box, str]]] | None = None
    saved_at: float = 0.0

    @property
    def kind(self) -> str:
        found = [labels.get(k) for k in sorted(self.scores, key=labels.priority)]
        return found[0].kind if found else "motion"


class EventWriter:
    def __init__(self, *, camera_id: int, camera_code: str, db: Database, store: ObjectStore,
                 zones: ZoneMap | None = None, fence: Callable[[], Fence] | None = None) -> None:
        self.camera_id = camera_id
        # several workers: every event write needs this camera's lease (storage.repo.leases); None: one worker
        self.fence = fence
        self.camera_code = camera_code
        self.db = db
        self.store = store
        self.zones = zones or ZoneMap({})
        self._open: _OpenEvent | None = None
        self._tamper_id: int | None = None

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self.db.session() as session:
            if self.fence is not None:
                check_fence(session=session, fence=self.fence())  # LeaseLost: another worker has this camera now
            yield session

    @property
    def open_event_id(self) -> int | None:
        return self._open.event_id if self._open else None

    def recover(self, now: float | None = None) -> tuple[float, float] | None:
        """After a restart: an event whose motion was seen within RESUME_GRACE_S is taken up again (returns its
        start and last motion, for the motion gate); older open events are closed at the last recorded moment."""
        now = time.time() if now is None else now
        with self._write() as session:
            recent = session.scalars(select(Event).where(
                Event.camera_id == self.camera_id, Event.end_at.is_(None), Event.kind.in_(("motion", "vehicle", "person")),
                Event.last_seen_at >= utc(now - RESUME_GRACE_S)).order_by(Event.start_at.desc())).first()
            if recent is not None and recent.last_seen_at is not None:
                self._open = _OpenEvent(event_id=recent.id, start=recent.start_at.timestamp(),
                                        last_seen=recent.last_seen_at.timestamp(),
                                        scores=dict(recent.label_scores or {}), zones=set(recent.zones or []))
                recent.detail = "resumed after a detector restart"
            recorded = session.scalar(select(func.max(Segment.end_at)).where(Segment.camera_id == self.camera_id))
            closed = [i for i in close_open_events(session=session, camera_id=self.camera_id,
                                                   recorded_until=min(recorded, utc(now)) if recorded else None)
                      if recent is None or i != recent.id]
        if closed:
            logger.warning("camera %s: closed %d event(s) left open by the previous run: %s", self.camera_code,
                           len(closed), closed)
        if self._open is not None:
            logger.info("camera %s: resuming event %d", self.camera_code, self._open.event_id)
            return self._open.start, self._open.last_seen
        return None

    def handle(self, change: MotionStarted | MotionEnded) -> None:
        if isinstance(change, MotionStarted):
            with self._write() as session:
                event = create_event(session=session, camera_id=self.camera_id, kind="motion",
                                     start_at=utc(change.at))
                event.last_seen_at = utc(change.at)
                self._open = _OpenEvent(event_id=event.id, start=change.at, last_seen=change.at)
            logger.info("camera %s: event %d started", self.camera_code, self._open.event_id)
        elif self._open is not None:
            self._finish(self._open, change.end)
            self._open = None

    def observe(self, frame: Frame, result: MotionResult, detections: Iterable[Detected] = ()) -> None:
        """One frame inside an event: collect labels with their best score, zones entered, the best picture."""
        current = self._open
        if current is None:
            return
        height, width = frame.height, frame.width
        found = list(detections)
        if result.moving:
            current.last_seen = result.at
        for det in found:
            if det.score > current.scores.get(det.label, 0.0):
                current.scores[det.label] = round(det.score, 3)
            current.zones.update(self.zones.zones_of(det.box, width, height))
        if not found:  # without objects, where the motion is
            for box in result.boxes:
                current.zones.update(self.zones.zones_of(box, width, height))
        rank = 1.0 + max(d.score for d in found) if found else result.area
        if (found or result.moving) and (current.best is None or rank > current.best[0]):
            captions = [(d.box, f"{labels.label(d.label, 'en')} {d.score:.2f}") for d in found] or \
                [(b, "") for b in result.boxes]
            current.best = (rank, frame, captions)  # made into a picture when the event ends
        if result.at - current.saved_at >= PROGRESS_EVERY_S:
            current.saved_at = result.at
            self._save_progress(current)

    def _save_progress(self, current: _OpenEvent) -> None:
        try:
            with self._write() as session:
                event = get_event(session=session, event_id=current.event_id)
                event.kind, event.last_seen_at = current.kind, utc(current.last_seen)
                event.labels = sorted(current.scores, key=labels.priority)
                event.label_scores, event.zones = dict(current.scores), sorted(current.zones)
                event.score = max(current.scores.values(), default=event.score)
        except StorageError as exc:
            logger.warning("camera %s: event %d progress not saved: %s", self.camera_code, current.event_id, exc)

    def _finish(self, current: _OpenEvent, end: float) -> None:
        snapshot_key = None
        if current.best is not None:
            snapshot_key = f"snapshots/{self.camera_code}/{current.event_id}.jpg"
            try:
                self.store.put_bytes(snapshot_key, snapshot_jpeg(current.best[1].image, current.best[2]),
                                     content_type="image/jpeg")
            except StorageError as exc:
                logger.warning("camera %s: snapshot of event %d not stored: %s", self.camera_code,
                               current.event_id, exc)
                snapshot_key = None
        self._save_progress(current)
        with self._write() as session:
            boxes = [list(box) for box, _ in current.best[2]] if current.best else []
            finish_event(session=session, event_id=current.event_id, end_at=utc(max(end, current.start)),
                         boxes=boxes, snapshot_key=snapshot_key)
        logger.info("camera %s: %s event %d ended (%.1f s, %s)", self.camera_code, current.kind, current.event_id,
                    end - current.start, ", ".join(sorted(current.scores)) or "motion only")

    def handle_tamper(self, change: TamperStarted | TamperEnded, frame: Frame | None = None) -> None:
        if isinstance(change, TamperStarted):
            with self._write() as session:
                event = create_event(session=session, camera_id=self.camera_id, kind="tamper",
                                     start_at=utc(change.at), labels=[change.reason])
                event.detail = f"camera view {change.reason}"
                event.clip_status = "pending"
                self._tamper_id = event.id
            logger.warning("camera %s: TAMPER (%s) since %s", self.camera_code, change.reason, utc(change.at))
            if frame is not None:
                key = f"snapshots/{self.camera_code}/{self._tamper_id}.jpg"
                try:
                    self.store.put_bytes(key, snapshot_jpeg(frame.image, []), content_type="image/jpeg")
                    with self._write() as session:
                        get_event(session=session, event_id=self._tamper_id).snapshot_key = key
                except StorageError as exc:
                    logger.warning("camera %s: tamper snapshot not stored: %s", self.camera_code, exc)
        elif self._tamper_id is not None:
            with self._write() as session:
                finish_event(session=session, event_id=self._tamper_id, end_at=utc(change.end))
            logger.warning("camera %s: view normal again after tamper event %d", self.camera_code, self._tamper_id)
            self._tamper_id = None

    def close(self, at: float) -> None:
        """The stream stopped or the worker is stopping: end what is open at its last motion."""
        if self._open is not None:
            self._finish(self._open, self._open.last_seen)
            self._open = None
