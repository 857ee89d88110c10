"""Spool segment files: their names, wall-clock start, probed duration and object keys."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import SegmentError

NAME_FORMAT = "%Y%m%dT%H%M%SZ"
CONTIGUOUS_S = 0.05  # a segment listed as starting this close to where the previous one ended continues it
ANCHOR_SLACK_S = 0.25  # refinements of the anchor up to this much are absorbed; larger ones show as they are

logger = logging.getLogger(__name__)


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


SIDECAR = ".json"  # "<segment>.ts.json": the segment's wall-clock span, written by the recorder when it closes


@dataclass(frozen=True)
class SegmentSpan:
    start: float  # UTC epoch seconds
    end: float


def sidecar_path(segment: Path) -> Path:
    return segment.with_name(segment.name + SIDECAR)


def read_span(segment: Path) -> SegmentSpan | None:
    try:
        data = json.loads(sidecar_path(segment).read_text())
        return SegmentSpan(start=float(data["start"]), end=float(data["end"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class RunTimeline:
    """Maps one ffmpeg run's stream time onto the wall clock and writes each closed segment's span beside it.

    File names carry only whole seconds and the open time of a segment lags its first frame (probing, buffering),
    so names alone misplace segments by up to ~1 s and make neighbours overlap. ffmpeg reports its output time once
    a second; wall-clock minus stream time, at its smallest, is when stream time zero was live. The segment list
    (CSV: name, start, end in stream time) then gives every segment's exact span.

    That smallest value still shrinks by a few ms now and then (how late a report was read), so a segment that
    continues the previous one in stream time starts where the previous one was placed to end: neighbours abut."""

    def __init__(self, list_path: Path, anchor: float | None = None) -> None:
        self.list_path = list_path
        self.anchor = anchor
        self._read = 0
        self._previous: tuple[float, float] | None = None  # the last listed segment's end: stream time, wall clock

    @property
    def anchor_path(self) -> Path:
        return self.list_path.with_name(self.list_path.name + ".anchor")

    def observe(self, out_time_s: float, wall: float) -> None:
        candidate = wall - out_time_s
        if self.anchor is None or candidate < self.anchor - 0.001:
            self.anchor = candidate
            # kept on disk so that, if this process dies, the next start can still place the closed segments
            tmp = self.anchor_path.with_suffix(".tmp")
            tmp.write_text(repr(self.anchor))
            tmp.replace(self.anchor_path)

    def finish(self) -> None:
        self.flush(final=True)
        self.list_path.unlink(missing_ok=True)
        self.anchor_path.unlink(missing_ok=True)

    @classmethod
    def recover(cls, camera_dir: Path) -> int:
        """Write the sidecars a killed recorder could not: ffmpeg (told to stop when its parent died) still listed
        its last segment. Returns how many sidecars were written."""
        written = 0
        for listing in sorted(camera_dir.glob(".run-*.csv")):
            timeline = cls(listing)
            try:
                timeline.anchor = float(timeline.anchor_path.read_text())
            except (OSError, ValueError):
                pass  # no frame ever arrived in that run: its files fall back to name + probed duration
            written += timeline.flush(final=True)
            timeline.list_path.unlink(missing_ok=True)
            timeline.anchor_path.unlink(missing_ok=True)
        return written

    def flush(self, *, final: bool = False) -> int:
        """Write sidecars for segments ffmpeg has closed since the last call; returns how many. `final`: ffmpeg has
        exited, so no listed file is still being written."""
        if self.anchor is None:
            return 0
        try:
            if self.list_path.stat().st_size <= self._read:
                return 0  # nothing new: one stat instead of open/read/close, every progress report of every camera
            with open(self.list_path, encoding="utf-8") as fh:
                fh.seek(self._read)
                text = fh.read()
        except FileNotFoundError:
            return 0
        lines = text[: text.rfind("\n") + 1].splitlines()  # ffmpeg may be mid-line
        entries = [(Path(name).name, float(start), float(end)) for name, start, end in
                   (line.rsplit(",", 2) for line in lines)]
        if not final and entries:
            # Names hold whole seconds: a listed name that is also the newest file may have been opened again by
            # ffmpeg for the next segment and be written right now. It waits until a newer file exists.
            writing = max((p.name for p in self.list_path.parent.glob("*.ts")), default=None)
            held = next((i for i, entry in enumerate(entries) if entry[0] == writing), len(entries))
            lines, entries = lines[:held], entries[:held]
        self._read += sum(len(line.encode()) + 1 for line in lines)
        written = 0
        for i, (name, start, end) in enumerate(entries):
            span = self._place(start, end)
            if i + 1 < len(entries) and entries[i + 1][0] == name:
                logger.error("%s: ffmpeg opened two segments within one second and the second overwrote %s; "
                             "%.1f s of footage are lost", self.list_path.parent, name, end - start)
                continue  # the file holds the next entry's footage, not this one's
            segment = self.list_path.parent / name
            if not segment.exists():
                continue  # uploaded already (recovery after a crash re-reads the whole list)
            tmp = sidecar_path(segment).with_suffix(".tmp")
            tmp.write_text(json.dumps({"start": span.start, "end": span.end}))
            tmp.replace(sidecar_path(segment))
            written += 1
        return written

    def _place(self, start: float, end: float) -> SegmentSpan:
        assert self.anchor is not None
        wall_start, wall_end = self.anchor + start, self.anchor + end
        previous = self._previous
        if previous is not None and abs(start - previous[0]) < CONTIGUOUS_S and \
                abs(wall_start - previous[1]) < ANCHOR_SLACK_S:
            wall_start = previous[1]
            wall_end = max(wall_end, wall_start)
        self._previous = (end, wall_end)
        return SegmentSpan(start=wall_start, end=wall_end)
