"""DetectWorker: one camera's frames → tamper check → motion → objects where it moves → events."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from config.settings import DetectConfig
from detect.events import Box, Detected, EventWriter
from detect.motion import MotionDetector, MotionGate
from detect.tamper import TamperDetector
from ingest.frames import Frame
from storage.errors import StorageError

logger = logging.getLogger(__name__)
STOP_POLL_S = 0.5  # how often the detection loop looks for stop() while no frame comes


class FrameSource(Protocol):
    def get(self, timeout: float) -> Frame | None: ...


class Objects(Protocol):
    """What detection needs of an object model (detect.objects.ObjectDetector)."""

    def detect(self, image: np.ndarray, regions: list[Box] | None = None) -> Sequence[Detected]: ...


class DetectWorker:
    def __init__(self, frames: FrameSource, writer: EventWriter, config: DetectConfig, *,
                 motion: MotionDetector | None = None, objects: Objects | None = None) -> None:
        self.frames = frames
        self.writer = writer
        self.config = config
        self.detector = motion or MotionDetector(config)
        self.objects = objects
        self.gate = MotionGate.from_config(config)
        self.tamper = TamperDetector(config)
        self.processed = 0
        self.object_calls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"detect-{writer.camera_code}", daemon=True)
        # With no frame for this long an open period is closed: the stream dropped, and the event must not hang open.
        self._silence_s = max(config.end_seconds, 1.0) + 5.0

    def prepare(self, now: float | None = None) -> None:
        """Take up an event the previous run left open (or close it if it is stale)."""
        now = time.time() if now is None else now
        resumed = self.writer.recover(now)
        if resumed is not None:
            self.gate.resume(*resumed, now=now)

    def start(self) -> None:
        self.prepare()
        self._thread.start()

    def stop(self, timeout: float = 10.0, *, wait: bool = True) -> None:
        """`wait=False` only asks (so that many cameras' detection can be stopped at once, then waited for)."""
        self._stop.set()
        if wait:
            self._thread.join(timeout)

    def _close_open(self) -> None:
        try:
            for ended in self.gate.close():
                self.writer.handle(ended)
        except StorageError as exc:
            # the database is away, or another worker has the camera now: the event stays open, and whoever next
            # runs detection for the camera closes it at the last recorded moment (EventWriter.recover)
            logger.warning("camera %s: open event not closed here: %s", self.writer.camera_code, exc)

    def _run(self) -> None:
        heard = time.monotonic()
        try:
            while not self._stop.is_set():
                # short waits, so stop() is seen at once (a shutdown must not wait out the silence period)
                frame = self.frames.get(timeout=STOP_POLL_S)
                if frame is None:
                    if time.monotonic() - heard >= self._silence_s:
                        self._close_open()
                        heard = time.monotonic()
                    continue
                heard = time.monotonic()
                try:
                    self.process(frame)
                except StorageError as exc:  # the database or store hiccuped: lose a frame, not the camera
                    logger.warning("camera %s: detection step failed: %s", self.writer.camera_code, exc)
        except Exception:
            logger.exception("detection for camera %s stopped unexpectedly", self.writer.camera_code)
            raise
        finally:
            self._close_open()

    def process(self, frame: Frame) -> None:
        self.processed += 1
        # tamper and motion look at a small grey picture only; BGR is made for the model and the snapshot if needed
        for change in self.tamper.update(frame.small_grey(self.tamper.width), frame.at):
            self.writer.handle_tamper(change, frame)
        if self.tamper.active:
            return  # a covered or turned view: its "motion" means nothing
        result = self.detector.detect_frame(frame)
        # the event is written before the object model runs: the model is shared and may be busy with other
        # cameras, and the duty officer should see the event now; its labels follow in the progress saves
        for change in self.gate.update(result):
            self.writer.handle(change)
        found: Sequence[Detected] = ()
        if result.moving and self.objects is not None:
            regions = list(result.boxes) if self.config.object_mode == "regions" else None
            found = self.objects.detect(frame.image, regions)
            self.object_calls += 1
        self.writer.observe(frame, result, found)
