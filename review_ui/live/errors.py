"""Live view errors; the web layer (review_ui.deps) turns them into HTTP answers.

    LiveError
    └── StreamUnavailable      a camera stream cannot be opened for live view
                               (.reason: "offline" | "auth_failed" | "unsupported_stream" | "error";
                                .http_status: 503 when it may come back by itself, 502 when the camera answered wrongly)
"""

from __future__ import annotations

from ingest.errors import SourceError, classify


class LiveError(Exception):
    pass


class StreamUnavailable(LiveError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail

    @property
    def http_status(self) -> int:
        # unreachable: a gateway timeout of sorts that may pass; otherwise the camera answered and said no
        return 503 if self.reason == "offline" else 502

    @classmethod
    def from_library_text(cls, camera: str, stream: str, masked_text: str) -> StreamUnavailable:
        """From ffmpeg/PyAV error text (already masked), classified as ingest classifies it."""
        error: SourceError = classify(masked_text)(masked_text)
        return cls(error.status, f"camera {camera} ({stream} stream) cannot be opened: {error}")
