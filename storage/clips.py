"""Clips: the segments that cover an event, checked against their SHA-256, cut and joined by stream copy into MP4."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from storage.errors import IntegrityError, StorageError
from storage.models import Segment
from storage.objectstore import ObjectStore

logger = logging.getLogger(__name__)


class ClipError(StorageError):
    """A clip could not be built; the message says why."""


@dataclass(frozen=True)
class SegmentRef:
    key: str
    start_at: dt.datetime
    end_at: dt.datetime
    sha256: str

    @classmethod
    def from_row(cls, row: Segment) -> SegmentRef:
        return cls(key=row.object_key, start_at=row.start_at, end_at=row.end_at, sha256=row.sha256)


@dataclass(frozen=True)
class Clip:
    path: Path
    start_at: dt.datetime
    end_at: dt.datetime
    duration: float


def media_duration(path: Path, *, ffprobe: str = "ffprobe") -> float:
    result = subprocess.run(
        [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60,
    )
    try:
        return float(json.loads(result.stdout)["format"]["duration"])
    except (KeyError, ValueError, json.JSONDecodeError) as exc:
        raise ClipError(f"{path.name} has no readable duration: {result.stderr.strip()[:200]}") from exc


def build_clip(
    *, store: ObjectStore, segments: list[SegmentRef], start: dt.datetime, end: dt.datetime, out: Path,
    ffmpeg: str = "ffmpeg", ffprobe: str = "ffprobe",
) -> Clip:
    """Cut [start, end) out of time-ordered segments. Each segment is verified against its recorded SHA-256 first,
    so a clip is never built from altered footage. Gaps between segments are joined, not padded."""
    if not segments:
        raise ClipError("no recorded segments cover this time")
    segments = sorted(segments, key=lambda s: s.start_at)
    start = max(start, segments[0].start_at)
    end = min(end, segments[-1].end_at)
    if end <= start:
        raise ClipError("the recorded segments end before the requested time")
    with tempfile.TemporaryDirectory(prefix="clip-", dir=out.parent) as tmp:
        workdir = Path(tmp)
        lines = []
        for i, seg in enumerate(segments):
            local = workdir / f"{i:04d}.ts"
            try:
                store.download(seg.key, local, expect_sha256=seg.sha256)
            except IntegrityError as exc:
                raise ClipError(f"segment {seg.key} was altered since recording; clip refused ({exc})") from exc
            lines.append(f"file '{local.name}'")
        listing = workdir / "list.txt"
        listing.write_text("\n".join(lines) + "\n")
        offset = (start - segments[0].start_at).total_seconds()
        duration = (end - start).total_seconds()
        cmd = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "concat", "-safe", "0", "-ss", f"{offset:.3f}", "-i", str(listing),
               "-t", f"{duration:.3f}", "-map", "0:v:0", "-c", "copy", "-movflags", "+faststart", str(out)]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if result.returncode != 0 or not out.exists():
            raise ClipError(f"ffmpeg could not cut the clip: {result.stderr.strip()[-300:]}")
    real = media_duration(out, ffprobe=ffprobe)
    return Clip(path=out, start_at=start, end_at=start + dt.timedelta(seconds=real), duration=real)
