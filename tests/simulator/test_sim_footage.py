"""Generated footage: exactly one cycle at the asked size, an IDR every GOP, cached atomically, drawn sensibly."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from matthan.simulator import scene
from matthan.simulator.footage import StreetRenderer, generate_footage

pytestmark = pytest.mark.timeout(60)


def probe(path: Path, *args: str) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", *args, "-of", "json", str(path)],
                         check=True, capture_output=True, text=True, timeout=60)  # fmt: skip
    return json.loads(out.stdout)


def test_footage_is_exactly_one_cycle_with_an_idr_every_gop(footage_cache: Path) -> None:
    path = generate_footage(footage_cache, camera_index=1, width=320, height=180)
    stream = probe(path, "-count_frames", "-show_entries", "stream=codec_name,profile,width,height,nb_read_frames")[
        "streams"
    ][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 320, 180)
    assert "Baseline" in stream["profile"]  # no B-frames: PTS == DTS all the way through the server
    assert int(stream["nb_read_frames"]) == scene.CYCLE_SECONDS * scene.FPS
    frames = probe(path, "-show_entries", "frame=key_frame,pict_type")["frames"]
    keys = [i for i, f in enumerate(frames) if f["key_frame"]]
    gop = scene.FPS // 2
    assert keys == list(range(0, scene.CYCLE_SECONDS * scene.FPS, gop))
    assert all(frames[i]["pict_type"] == "I" for i in keys)
    # SPS/PPS are repeated before each IDR, so a stream cut at any keyframe stands alone
    data = path.read_bytes()
    assert data.count(b"\x00\x00\x01\x67") + data.count(b"\x00\x00\x01\x27") == len(keys)


def test_footage_is_cached_and_written_atomically(tmp_path: Path) -> None:
    first = generate_footage(tmp_path, camera_index=5, width=96, height=54, fps=5, gop_frames=5)
    stamp = first.stat().st_mtime_ns
    again = generate_footage(tmp_path, camera_index=5, width=96, height=54, fps=5, gop_frames=5)
    assert again == first and again.stat().st_mtime_ns == stamp  # reused, not re-rendered
    other = generate_footage(tmp_path, camera_index=6, width=96, height=54, fps=5, gop_frames=5)
    assert other != first and other.read_bytes() != first.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.name, other.name])  # no temp files left


def test_odd_sizes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        generate_footage(tmp_path, camera_index=1, width=321, height=180)


def grey(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32).mean(axis=2)


def test_still_frames_differ_only_by_mild_noise_and_cameras_differ() -> None:
    cam1 = StreetRenderer(camera_index=1, width=320, height=180)
    cam2 = StreetRenderer(camera_index=2, width=320, height=180)
    a, b = grey(cam1.frame(1.0, 15)), grey(cam1.frame(5.0, 76))
    assert np.abs(a - b).mean() < 2.5 and np.abs(a - b).max() < 16
    assert np.abs(a - grey(cam2.frame(1.0, 15))).mean() > 10


@pytest.mark.parametrize("crossing", scene.CROSSINGS, ids=lambda c: c.kind)
def test_the_crossing_object_is_where_the_timetable_says(crossing: scene.Crossing) -> None:
    renderer = StreetRenderer(camera_index=1, width=320, height=180)
    background = grey(renderer.frame(1.0, 0))
    for progress in (0.25, 0.5, 0.75):
        t = crossing.start + progress * (crossing.end - crossing.start)
        ys, xs = np.nonzero(np.abs(grey(renderer.frame(t, 0)) - background) > 30)
        assert len(xs) > 150, "the object is drawn big enough to detect at 320x180"
        centre = xs.mean() / 320
        expected = progress if crossing.left_to_right else 1 - progress
        assert abs(centre - expected) < 0.15
        assert ys.max() <= crossing.ground * 180 + 3  # standing on its ground line, not below it
    assert np.abs(grey(renderer.frame(crossing.end, 0)) - background).max() < 16  # gone at the end
