"""Still pictures of a camera for viewers WebRTC cannot reach: one JPEG from the sub stream, shared for a moment."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import av
import cv2

from config.inventory import mask_url
from review_ui.live.errors import StreamUnavailable
from review_ui.live.hub import LiveTarget

JPEG_QUALITY = 80


@dataclass(frozen=True)
class Snapshot:
    jpeg: bytes
    taken_at: float  # Unix time


def grab_jpeg(url: str, *, rtsp_transport: str, timeout_s: float) -> bytes:
    """Open the stream, decode from its first keyframe, return that picture as JPEG (blocking: run in a thread)."""
    options = {"rtsp_transport": rtsp_transport, "analyzeduration": "500000", "probesize": "100000"}
    with av.open(url, format="rtsp", options=options, timeout=(timeout_s, timeout_s)) as container:
        if not container.streams.video:
            raise ValueError("the stream has no video track")
        stream = container.streams.video[0]
        deadline = time.monotonic() + 2 * timeout_s  # a camera whose keyframes are further apart is broken
        keyframe_seen = False
        for packet in container.demux(stream):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no picture could be decoded in {2 * timeout_s:.0f} s (timed out)")
            keyframe_seen = keyframe_seen or packet.is_keyframe
            if not keyframe_seen:
                continue  # pictures before the first keyframe are grey smears
            for frame in packet.decode():
                ok, encoded = cv2.imencode(".jpg", frame.to_ndarray(format="bgr24"),
                                           [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])  # fmt: skip
                if ok:
                    return encoded.tobytes()
    raise EOFError("the stream ended before a picture (end of file)")


class SnapshotCache:
    """Grabs at most one picture per camera every `max_age_s`, however many viewers ask, and a few at a time."""

    def __init__(self, *, rtsp_transport: str = "tcp", connect_timeout_s: float = 5.0, max_age_s: float = 2.0,
                 failure_age_s: float = 5.0, parallel: int = 4) -> None:  # fmt: skip
        self.rtsp_transport = rtsp_transport
        self.connect_timeout_s = connect_timeout_s
        self.max_age_s = max_age_s
        self.failure_age_s = failure_age_s
        self._parallel = parallel
        self._slots: asyncio.Semaphore | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._cache: dict[str, tuple[float, Snapshot | StreamUnavailable]] = {}
        self.grabs = 0

    async def get(self, target: LiveTarget) -> Snapshot:
        """The camera's latest picture; StreamUnavailable when it cannot be had (that answer is cached too)."""
        lock = self._locks.setdefault(target.camera, asyncio.Lock())
        async with lock:
            cached = self._cache.get(target.camera)
            if cached is not None:
                at, value = cached
                age = time.monotonic() - at
                if isinstance(value, Snapshot) and age < self.max_age_s:
                    return value
                if isinstance(value, StreamUnavailable) and age < self.failure_age_s:
                    raise value
            try:
                value = Snapshot(await self._grab(target), time.time())
            except StreamUnavailable as exc:
                value = exc
            self._cache[target.camera] = (time.monotonic(), value)
            if isinstance(value, StreamUnavailable):
                raise value
            return value

    async def _grab(self, target: LiveTarget) -> bytes:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._parallel)
        async with self._slots:
            self.grabs += 1
            try:
                return await asyncio.to_thread(grab_jpeg, target.url, rtsp_transport=self.rtsp_transport,
                                               timeout_s=self.connect_timeout_s)  # fmt: skip
            except (av.FFmpegError, OSError, ValueError, EOFError) as exc:  # TimeoutError is an OSError
                # `from None`: the library's message holds the URL with its password
                raise StreamUnavailable.from_library_text(target.camera, target.stream, mask_url(str(exc))) from None
