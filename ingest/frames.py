"""FrameReader: PyAV decode of a camera's sub stream, frames handed on at the detect rate (bounded queue, drop oldest)."""

from __future__ import annotations

import logging
import queue
import threading
import time

import av
import cv2
import numpy as np

from config.inventory import mask_url
from config.settings import DetectConfig, IngestConfig
from ingest.errors import SourceError, SourceUnsupported, classify
from ingest.recorder import SourceStatus, StatusCallback
from storage.repo.cameras import CameraSource

logger = logging.getLogger(__name__)
QUEUE_FRAMES = 8
RESYNC_S = 2.0  # re-anchor stream time to the wall clock when they drift further apart than this
ONE_THREAD_MAX_PIXELS = 1280 * 720


LUMA_BLACK, LUMA_SPAN = 16, 219  # limited-range luma, as H.264 cameras send it: 16..235


class Frame:
    """A decoded frame and the wall-clock UTC time it shows (epoch seconds).

    Most frames only ever need their grey picture (motion, tamper); BGR is made on first use (the object model,
    a snapshot). A camera's usual yuv420p frame is therefore kept as the decoder gave it, and its grey comes straight
    from the Y plane: converting every frame to BGR first cost more than the motion step itself
    (tests/bench/README.md). The decoder's buffer is reference-counted, so holding the frame here is safe."""

    __slots__ = ("camera_id", "at", "_decoded", "_bgr", "_grey", "_small", "height", "width")

    def __init__(self, camera_id: int, at: float, image: np.ndarray | None = None, *,
                 decoded: av.VideoFrame | None = None) -> None:
        if (image is None) == (decoded is None):
            raise ValueError("a Frame needs its pixels as exactly one of image (BGR) or decoded (a yuv420p frame)")
        if image is not None and (image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8):
            raise ValueError(f"Frame.image must be HxWx3 uint8 BGR, got {image.shape} {image.dtype}")
        if decoded is not None and not _i420(decoded):
            raise ValueError(f"a decoded Frame must be yuv420p with even sides, got {decoded.format.name} "
                             f"{decoded.width}x{decoded.height}")  # fmt: skip
        self.camera_id = camera_id
        self.at = at
        self._bgr = image
        self._decoded = decoded
        self._grey: np.ndarray | None = None
        self._small: dict[int, np.ndarray] = {}
        self.height, self.width = (decoded.height, decoded.width) if decoded is not None else image.shape[:2]  # type: ignore[union-attr]

    @classmethod
    def from_av(cls, frame: av.VideoFrame, *, camera_id: int, at: float) -> Frame:
        if _i420(frame):
            return cls(camera_id, at, decoded=frame)
        # other formats (full-range yuvj420p, nv12, odd sides) through PyAV; odd widths come back as a padded view
        return cls(camera_id, at, image=np.ascontiguousarray(frame.to_ndarray(format="bgr24")))

    @property
    def image(self) -> np.ndarray:
        """BGR pixels, HxWx3 uint8."""
        if self._bgr is None:
            # PyAV's own converter costs 3-4 times what OpenCV does from the stacked planes
            self._bgr = cv2.cvtColor(self._decoded.to_ndarray(), cv2.COLOR_YUV2BGR_I420)  # type: ignore[union-attr]
        return self._bgr

    @property
    def grey(self) -> np.ndarray:
        """Grey pixels, HxW uint8, on the same 0..255 scale as BGR→grey."""
        if self._grey is None:
            decoded = self._decoded is not None
            self._grey = _stretch(self._luma()) if decoded else cv2.cvtColor(self._bgr, cv2.COLOR_BGR2GRAY)
        return self._grey

    def small_grey(self, width: int) -> np.ndarray:
        """The grey picture scaled down to `width` (never up), as motion and tamper checks use it; made once per
        width. From a decoded frame the Y plane is shrunk first and stretched after: 16 times fewer pixels."""
        small = self._small.get(width)
        if small is None:
            if self._decoded is not None and self._grey is None:
                small = _stretch(shrink(self._luma(), width))
            else:
                small = shrink(self.grey, width)
            self._small[width] = small
        return small

    def _luma(self) -> np.ndarray:
        plane = self._decoded.planes[0]  # type: ignore[union-attr]
        return np.frombuffer(plane, np.uint8).reshape(self.height, plane.line_size)[:, : self.width]


def _stretch(luma: np.ndarray) -> np.ndarray:
    # limited-range luma (16..235) stretched to 0..255, the scale BGR→grey gives (a lookup table costs 3 times as much)
    return cv2.convertScaleAbs(cv2.subtract(luma, LUMA_BLACK), alpha=255.0 / LUMA_SPAN)


def shrink(image: np.ndarray, width: int) -> np.ndarray:
    """`image` (grey, or BGR) scaled to `width` (never up), aspect kept. Area averaging halves first while the picture
    is at least twice too wide: OpenCV's area resize is several times faster by exact halves than by other factors."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape
    width = min(width, w)
    while w >= 2 * width and w % 2 == 0 and h % 2 == 0:
        grey = cv2.resize(grey, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        h, w = grey.shape
    if w == width:
        return grey
    return cv2.resize(grey, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)


def _i420(frame: av.VideoFrame) -> bool:
    return frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0


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
            # One decoding thread per camera: the cameras are the parallelism, and frame threads cost a third more
            # CPU per frame at sub-stream sizes (tests/bench/README.md). A big picture (a main stream used for
            # detection because the camera has no sub stream) gets the decoder's threads so it keeps up.
            if stream.codec_context.width * stream.codec_context.height > ONE_THREAD_MAX_PIXELS:
                stream.thread_type = "AUTO"
            else:
                stream.codec_context.thread_count = 1
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
