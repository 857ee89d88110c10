"""Test a camera connection before it is saved: open the RTSP stream, read codec/size/fps and one JPEG snapshot.

Blocking (up to about twice the timeout): the web app calls it from a worker thread, never on its event loop."""

from __future__ import annotations

import errno
import logging
import time
from dataclasses import dataclass

import av
import cv2

from config.inventory import mask_url
from ingest.errors import SourceAuthFailed, SourceError, SourceNotFound, SourceUnreachable, SourceUnsupported, classify

logger = logging.getLogger(__name__)

RECORDABLE_CODECS = frozenset({"h264", "hevc"})  # what the recorder can stream-copy into MPEG-TS segments
SNAPSHOT_MAX_WIDTH = 640
JPEG_QUALITY = 80

# The probe's answer to the person at the form: which problem it is, as a stable code the UI puts in words.
PROBLEMS: dict[type[SourceError], str] = {
    SourceAuthFailed: "unauthorized",
    SourceNotFound: "not_found",
    SourceUnsupported: "no_video",
    SourceUnreachable: "unreachable",
}


@dataclass(frozen=True)
class ProbeResult:
    codec: str
    width: int
    height: int
    fps: float | None
    snapshot_jpeg: bytes
    seconds: float  # how long the probe took


def problem_code(error: SourceError) -> str:
    """unauthorized | not_found | no_video | unreachable (anything else counts as unreachable)."""
    return next((code for cls, code in PROBLEMS.items() if isinstance(error, cls)), "unreachable")


def _open_error(exc: Exception, timeout_s: float) -> SourceError:
    """Map a PyAV/OS error from opening the stream; the message never holds the password."""
    text = mask_url(str(exc))
    if isinstance(exc, av.error.HTTPUnauthorizedError):
        return SourceAuthFailed(f"the camera answered 401 Unauthorized ({text})")
    if isinstance(exc, av.error.HTTPNotFoundError):
        return SourceNotFound(f"the camera answered 404 Not Found: no stream at this path ({text})")
    if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ECONNREFUSED:
        return SourceUnreachable(f"connection refused: nothing listens on that address and port ({text})")
    if isinstance(exc, TimeoutError) or getattr(exc, "errno", None) in (errno.ETIMEDOUT, errno.EAGAIN):
        return SourceUnreachable(f"no answer within {timeout_s:.0f} s ({text})")
    if isinstance(exc, av.error.InvalidDataError):
        # what FFmpeg says when there is no RTSP answer it understands (nothing, or not RTSP at all)
        return SourceUnreachable(f"no RTSP answer from that address ({text})")
    return classify(text)(text)


def probe_stream(url: str, *, timeout_s: float = 10.0, rtsp_transport: str = "tcp", snapshot: bool = True
                 ) -> ProbeResult:
    """Open `url` (credentials inside, as ingest opens it), read one picture; raise a SourceError saying what is
    wrong and what to do. Never logs or returns the URL unmasked."""
    started = time.monotonic()
    options = {"rtsp_transport": rtsp_transport, "analyzeduration": "500000", "probesize": "100000",
               "timeout": str(int(timeout_s * 1_000_000))}
    try:
        container = av.open(url, options=options, timeout=(timeout_s, timeout_s))
    except (av.FFmpegError, OSError) as exc:
        raise _open_error(exc, timeout_s) from exc
    with container:
        if not container.streams.video:
            kinds = ", ".join(sorted({s.type for s in container.streams})) or "nothing"
            raise SourceUnsupported(f"the stream has no video track (it carries {kinds})")
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        if codec not in RECORDABLE_CODECS:
            raise SourceUnsupported(f"the video is {codec}, which cannot be recorded by stream copy; set the camera "
                                    "to H.264 or H.265")  # fmt: skip
        rate = stream.average_rate or stream.guessed_rate
        fps = round(float(rate), 2) if rate else None
        jpeg = b""
        width, height = stream.codec_context.width, stream.codec_context.height
        if snapshot:
            frame = _first_picture(container, stream, deadline=started + 2 * timeout_s)
            width, height = frame.width, frame.height
            jpeg = _jpeg(frame)
    seconds = time.monotonic() - started
    logger.info("probed %s: %s %dx%d at %s fps in %.1f s", mask_url(url), codec, width, height, fps, seconds)
    return ProbeResult(codec=codec, width=width, height=height, fps=fps, snapshot_jpeg=jpeg, seconds=seconds)


def _first_picture(container: av.container.InputContainer, stream: av.VideoStream, *, deadline: float
                   ) -> av.VideoFrame:
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                return frame
            if time.monotonic() > deadline:
                break
    except av.FFmpegError as exc:
        text = mask_url(str(exc))
        raise classify(text)(f"the stream broke off before a picture arrived ({text})") from exc
    raise SourceUnsupported("no picture could be decoded from the stream (no keyframe arrived in time)")


def _jpeg(frame: av.VideoFrame) -> bytes:
    image = frame.to_ndarray(format="bgr24")
    if image.shape[1] > SNAPSHOT_MAX_WIDTH:
        height = round(image.shape[0] * SNAPSHOT_MAX_WIDTH / image.shape[1])
        image = cv2.resize(image, (SNAPSHOT_MAX_WIDTH, height), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise SourceUnsupported("the picture could not be encoded as JPEG")
    return data.tobytes()
