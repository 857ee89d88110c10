"""FrameReader: PyAV decode of a camera's sub stream, frames handed on at the detect rate (bounded queue, drop oldest)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

import av
import numpy as np

from config.inventory import mask_url
from config.settings import DetectConfig, IngestConfig
from ingest.errors import SourceError, SourceUnsupported, classify
from ingest.recorder import SourceStatus, StatusCallback
from storage.repo.cameras import CameraSource

logger = logging.getLogger(__name__)
QUEUE_FRAMES = 8
RESYNC_S = 2.0  # re-anchor stream time to the wall clock when they drift further apart than this


@dataclass(frozen=True)
class Frame:
    """A decoded frame: BGR pixels and the wall-clock UTC time it shows (epoch seconds)."""

    camera_id: int
    at: float
    image: np.ndarray

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(f"Frame.image must be HxWx3 uint8 BGR, got {self.image.shape} {self.image.dtype}")

    @classmethod
    def from_av(cls, frame: av.VideoFrame, *, camera_id: int, at: float) -> Frame:
        return cls(camera_id=camera_id, at=at, image=frame.to_ndarray(format="bgr24"))


def open_options(config: IngestConfig) -> dict[str, str]:
    return {
        "rtsp_transport": config.rtsp_transport,
        "analyzeduration": "500000",
        "probesize": "100000",
        "timeout": str(int(config.connect_timeout_s * 1_000_000)),
    }


class FrameReader:
    """Reads one stream in its own thread (PyAV releases the GIL while decoding) and keeps the newest frames."""

    def __init__(self, source: CameraSource, *, ingest: IngestConfig, detect: DetectConfig,
                 on_status: StatusCallback | None = None) -> None:
        self.source = source
        self.ingest = ingest
        self.interval = 1.0 / detect.fps
        self.frames: queue.Queue[Frame] = queue.Queue(maxsize=QUEUE_FRAMES)
        self.dropped = 0
        self.decoded = 0
        self._on_status = on_status
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"frames-{source.code}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def get(self, timeout: float) -> Frame | None:
        try:
            return self.frames.get(timeout=timeout)
        except queue.Empty:
            return None

    def _put(self, frame: Frame) -> None:
        while True:
            try:
                self.frames.put_nowait(frame)
                return
            except queue.Full:
                try:
                    self.frames.get_nowait()  # detection fell behind: the oldest frame matters least
                    self.dropped += 1
                except queue.Empty:
                    pass

    def _run(self) -> None:
        backoff = self.ingest.restart_backoff_s
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._read_once()
            except SourceError as exc:
                logger.warning("camera %s frames (%s): %s; retrying in %.0f s", self.source.code,
                               mask_url(self.source.detect_url), exc, backoff)
                if self._on_status:
                    self._on_status(SourceStatus(self.source.camera_id, exc.status, str(exc)))
            if self._stop.is_set():
                return
            if time.monotonic() - started > 10:
                backoff = self.ingest.restart_backoff_s
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.ingest.restart_backoff_max_s)

    def _read_once(self) -> None:
        try:
            container = av.open(self.source.detect_url, options=open_options(self.ingest),
                                timeout=(self.ingest.connect_timeout_s, self.ingest.connect_timeout_s))
        except av.FFmpegError as exc:
            raise classify(str(exc))(mask_url(str(exc))) from exc
        with container:
            if not container.streams.video:
                raise SourceUnsupported("the stream has no video track")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            anchor_wall: float | None = None
            anchor_pts = 0.0
            next_due = 0.0
            try:
                for frame in container.decode(stream):
                    if self._stop.is_set():
                        return
                    self.decoded += 1
                    now = time.time()
                    pts = float(frame.time) if frame.time is not None else None
                    if pts is None:
                        at = now
                    else:
                        if anchor_wall is None or abs(anchor_wall + pts - anchor_pts - now) > RESYNC_S:
                            anchor_wall, anchor_pts = now, pts
                        at = min(now, anchor_wall + pts - anchor_pts)
                    if at >= next_due:
                        next_due = at + self.interval * 0.9  # small slack so jitter does not halve the rate
                        self._put(Frame.from_av(frame, camera_id=self.source.camera_id, at=at))
            except av.FFmpegError as exc:
                raise classify(str(exc))(mask_url(str(exc))) from exc
        raise classify("end of file")("the stream ended")
