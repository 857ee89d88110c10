"""Spool segment files: their names, wall-clock start, probed duration and object keys."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import SegmentError

NAME_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class SpoolSegment:
    camera_code: str
    path: Path
    start_at: dt.datetime

    @classmethod
    def from_path(cls, path: Path) -> SpoolSegment:
        try:
            start = dt.datetime.strptime(path.stem, NAME_FORMAT).replace(tzinfo=dt.UTC)
        except ValueError as exc:
            raise SegmentError(f"{path.name} is not a segment name ({NAME_FORMAT}.ts)") from exc
        return cls(camera_code=path.parent.name, path=path, start_at=start)

    @property
    def object_key(self) -> str:
        s = self.start_at
        return f"segments/{self.camera_code}/{s:%Y/%m/%d/%H}/{s:{NAME_FORMAT}}{self.path.suffix}"


def probe_duration(path: Path, *, ffprobe: str = "ffprobe") -> float:
    """Seconds of media in a file, from the video stream's packets; SegmentError if nothing decodable is in it."""
    cmd = [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries", "format=duration:stream=codec_name",
           "-of", "json", str(path)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise SegmentError(f"{path}: ffprobe failed: {result.stderr.strip()[:300]}")
    info = json.loads(result.stdout or "{}")
    try:
        duration = float(info["format"]["duration"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SegmentError(f"{path}: no duration (empty or truncated before the first frame)") from exc
    if not info.get("streams") or duration <= 0:
        raise SegmentError(f"{path}: no video in it")
    return duration
