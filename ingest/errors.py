"""Ingest errors. Each source error carries the camera health status it implies and says what to do.

    IngestError
    ├── SourceError                  a camera/recorder stream cannot be used
    │   ├── SourceUnreachable        status "offline": no answer, refused, timed out
    │   ├── SourceAuthFailed         status "auth_failed": 401 from the camera
    │   ├── SourceNotFound           status "offline": 404, the path/channel does not exist
    │   ├── SourceUnsupported        status "unsupported_stream": no H.264/H.265 video in it
    │   └── SpoolDiskFull            status "disk_full": the spool disk cannot take another byte
    └── SegmentError                 a spool file cannot be indexed (undecodable, empty)
"""

from __future__ import annotations


class IngestError(Exception):
    pass


class SourceError(IngestError):
    status = "error"
    advice = "check the camera and its settings"

    def __init__(self, detail: str) -> None:
        super().__init__(f"{detail} — {self.advice}")
        self.detail = detail


class SourceUnreachable(SourceError):
    status = "offline"
    advice = "check that the camera is powered and on the network, and that its address and RTSP port are right"


class SourceAuthFailed(SourceError):
    status = "auth_failed"
    advice = "the camera refused the user name or password; correct them in the camera settings"


class SourceNotFound(SourceError):
    status = "offline"
    advice = "the camera answered but has no such stream; check the RTSP path or the recorder channel number"


class SourceUnsupported(SourceError):
    status = "unsupported_stream"
    advice = "this URL carries no H.264/H.265 video; point it at the camera's video stream (main or sub)"


class SpoolDiskFull(SourceError):
    status = "disk_full"
    advice = ("the spool disk is full: check that the object store is reachable (uploads free the spool) and free "
              "space or move ingest.spool_dir to a larger disk")


class SegmentError(IngestError):
    pass


# Ordered: the first pattern found in ffmpeg/PyAV output decides the error class.
_PATTERNS: tuple[tuple[tuple[str, ...], type[SourceError]], ...] = (
    (("no space left on device", "disk quota exceeded"), SpoolDiskFull),
    (("401 unauthorized", "unauthorized", "authorization failed"), SourceAuthFailed),
    (("404 not found", "not found"), SourceNotFound),
    (("matches no streams", "no video", "could not find codec parameters",
      "does not contain any stream", "unsupported codec"), SourceUnsupported),
    # "Invalid data found when processing input" from an rtsp:// input: no RTSP answer FFmpeg understands (a camera
    # that accepts the connection and hangs, or not RTSP at all), as the connection test (ingest/probe.py) says
    (("invalid data found", "connection refused", "timed out", "timeout", "no route to host", "network is unreachable",
      "connection reset", "name or service not known", "temporary failure in name resolution", "end of file",
      "broken pipe", "i/o error", "input/output error"), SourceUnreachable),
)


def classify(text: str) -> type[SourceError]:
    """Map ffmpeg/PyAV error text to the source error it means; unknown text counts as unreachable."""
    lowered = text.lower()
    for needles, cls in _PATTERNS:
        if any(n in lowered for n in needles):
            return cls
    return SourceUnreachable
