"""RunTimeline on segment lists written by real ffmpeg: neighbours abut, a file ffmpeg may still write waits, and a
strftime name ffmpeg used twice never gets the overwritten segment's span."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest

from ingest.recorder import SEGMENT_PATTERN
from ingest.segments import RunTimeline, SegmentSpan, read_span, sidecar_path

ANCHOR = 1_800_000_000.0  # wall clock (UTC epoch s) at stream time zero


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s of H.264 at 15 fps with a keyframe every 7 frames, as the simulator sends."""
    path = tmp_path_factory.mktemp("timeline") / "source.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=160x90:r=15:d=6", "-c:v", "libx264",
                    "-preset", "ultrafast", "-g", "7", "-pix_fmt", "yuv420p", "-f", "mpegts", str(path)],
                   check=True, timeout=60)
    return path


def segment(source: Path, out: Path, pattern: str) -> Path:
    """Cut `source` as the recorder does (-c copy, 1 s segments, a CSV list). Copying a file runs far faster than
    real time: every segment opens within a second or two of the first."""
    out.mkdir()
    listing = out / ".run-1.csv"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(source), "-map", "0:v:0", "-c", "copy", "-f", "segment",
                    "-segment_time", "1", "-segment_format", "mpegts", "-reset_timestamps", "1",
                    *(["-strftime", "1"] if "%Y" in pattern else []), "-segment_list", str(listing),
                    "-segment_list_type", "csv", str(out / pattern)],
                   check=True, timeout=60, env=dict(os.environ, TZ="UTC"))
    return listing


def entries(listing: Path) -> list[tuple[str, float, float]]:
    rows = [line.rsplit(",", 2) for line in listing.read_text().splitlines()]
    return [(name, float(start), float(end)) for name, start, end in rows]


def test_neighbours_abut_when_the_anchor_is_refined_and_the_newest_file_waits(source: Path, tmp_path: Path) -> None:
    listing = segment(source, tmp_path / "cam", "%03d.ts")
    listed = entries(listing)
    assert len(listed) >= 4 and all(a[2] == pytest.approx(b[1], abs=0.001) for a, b in zip(listed, listed[1:]))
    timeline = RunTimeline(listing, anchor=ANCHOR)
    # while ffmpeg runs, the newest file may still be written (or reopened under the same name): it waits
    assert timeline.flush() == len(listed) - 1
    assert read_span(tmp_path / "cam" / listed[-1][0]) is None
    timeline.observe(10.0, ANCHOR + 10.0 - 0.02)  # a report read 20 ms sooner after its frame: the anchor moves
    assert timeline.anchor == pytest.approx(ANCHOR - 0.02)
    assert timeline.flush(final=True) == 1
    spans = [read_span(tmp_path / "cam" / name) or SegmentSpan(0, 0) for name, _, _ in listed]
    for (name, start, end), span in zip(listed[:-1], spans):
        assert (span.start, span.end) == pytest.approx((ANCHOR + start, ANCHOR + end), abs=1e-6), name
    assert spans[-1].start == spans[-2].end, "the last segment continues the one before it"
    assert spans[-1].end == pytest.approx(ANCHOR - 0.02 + listed[-1][2], abs=1e-6), "its end uses the refined anchor"


def test_a_name_ffmpeg_used_twice_keeps_only_the_footage_it_holds(source: Path, tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """Names hold the wall-clock second a segment opened in; segments opening within one second share a name and
    ffmpeg overwrites the file. What is gone must not be claimed; the file is described by the segment it holds."""
    listing = segment(source, tmp_path / "cam", SEGMENT_PATTERN)
    listed = entries(listing)
    names = [name for name, _, _ in listed]
    assert len(set(names)) < len(names), "the fast copy should reuse names"
    caplog.set_level(logging.ERROR, logger="ingest.segments")
    timeline = RunTimeline(listing, anchor=ANCHOR)
    timeline.flush()
    newest = max(names)
    assert not sidecar_path(tmp_path / "cam" / newest).exists(), "the file ffmpeg may still write waits"
    timeline.flush(final=True)
    for name in set(names):
        last = [entry for entry in listed if entry[0] == name][-1]
        span = read_span(tmp_path / "cam" / name)
        assert span is not None
        assert (span.start, span.end) == pytest.approx((ANCHOR + last[1], ANCHOR + last[2]), abs=1e-6), name
    lost = [r for r in caplog.records if "overwrote" in r.getMessage()]
    assert len(lost) == len(names) - len(set(names)), "each overwritten segment is reported"
    assert "footage are lost" in lost[0].getMessage()
