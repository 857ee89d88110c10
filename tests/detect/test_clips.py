"""Clips from recorded segments: cut by stream copy, and refused when a segment no longer matches its SHA-256."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import pytest

from storage.clips import ClipError, SegmentRef, build_clip, media_duration
from storage.objectstore import ObjectStore
from tests.conftest import decoded_frames

T0 = dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def recorded(simulator: Any, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three real 4-s MPEG-TS segments from the simulator, as the recorder writes them."""
    out = tmp_path_factory.mktemp("segs")
    subprocess.run(["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", simulator.main_url(1), "-t", "12",
                    "-map", "0:v:0", "-c", "copy", "-f", "segment", "-segment_time", "4", "-segment_format", "mpegts",
                    "-reset_timestamps", "1", str(out / "%03d.ts")], check=True, timeout=60)
    return sorted(out.glob("*.ts"))[:3]


def put_segments(store: ObjectStore, files: list[Path]) -> list[SegmentRef]:
    refs, start = [], T0
    for i, path in enumerate(files):
        stored = store.put_file(f"segments/cam-01/{i}.ts", path)
        end = start + dt.timedelta(seconds=media_duration(path))
        refs.append(SegmentRef(key=stored.key, start_at=start, end_at=end, sha256=stored.sha256))
        start = end
    return refs


def test_clip_spans_segments_and_lasts_as_asked(store: ObjectStore, recorded: list[Path], tmp_path: Path) -> None:
    refs = put_segments(store, recorded)
    clip = build_clip(store=store, segments=refs, start=T0 + dt.timedelta(seconds=2.5),
                      end=T0 + dt.timedelta(seconds=9.5), out=tmp_path / "clip.mp4")
    assert abs(clip.duration - 7.0) <= 1.0
    assert clip.start_at == T0 + dt.timedelta(seconds=2.5)
    assert decoded_frames(clip.path) >= 0.9 * clip.duration * 15  # every frame decodes


def test_an_altered_segment_is_refused(store: ObjectStore, recorded: list[Path], tmp_path: Path) -> None:
    refs = put_segments(store, recorded)
    tampered = bytearray(store.get_bytes(refs[1].key))
    tampered[5000] ^= 0xFF
    store.put_bytes(refs[1].key, bytes(tampered))
    with pytest.raises(ClipError, match="altered"):
        build_clip(store=store, segments=refs, start=T0, end=T0 + dt.timedelta(seconds=10), out=tmp_path / "c.mp4")
    assert not (tmp_path / "c.mp4").exists()


def test_no_segments_is_a_clear_error(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(ClipError, match="no recorded segments"):
        build_clip(store=store, segments=[], start=T0, end=T0 + dt.timedelta(seconds=5), out=tmp_path / "x.mp4")
