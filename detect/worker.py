"""DetectWorker: one camera's frames → motion → hysteresis → events."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from config.settings import DetectConfig
from detect.events import EventWriter
from detect.motion import MotionDetector, MotionGate
from ingest.frames import Frame
from storage.errors import StorageError

logger = logging.getLogger(__name__)


class FrameSource(Protocol):
    def get(self, timeout: float) -> Frame | None: ...


class DetectWorker:
    def __init__(self, frames: FrameSource, writer: EventWriter, config: DetectConfig) -> None:
        self.frames = frames
        self.writer = writer
        self.detector = MotionDetector(config)
        self.gate = MotionGate.from_config(config)
        self.processed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"detect-{writer.camera_code}", daemon=True)
        # With no frame for this long an open period is closed: the stream dropped, and the event must not hang open.
        self._silence_s = max(config.end_seconds, 1.0) + 5.0

    def start(self) -> None:
        self.writer.recover()
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self.frames.get(timeout=self._silence_s)
                if frame is None:
                    for ended in self.gate.close():
                        self.writer.handle(ended)
                    continue
                try:
                    self.process(frame)
                except StorageError as exc:  # the database or store hiccuped: lose a frame, not the camera
                    logger.warning("camera %s: detection step failed: %s", self.writer.camera_code, exc)
        except Exception:
            logger.exception("detection for camera %s stopped unexpectedly", self.writer.camera_code)
            raise
        finally:
            for ended in self.gate.close():
                self.writer.handle(ended)

    def process(self, frame: Frame) -> None:
        result = self.detector.detect(frame.image, frame.at)
        self.processed += 1
        for change in self.gate.update(result):
            self.writer.handle(change)
        self.writer.observe(frame.image, result)
