"""The simulated RTSP server, read by real clients: H.264 at the right sizes, on the wall clock, auth, audio-only."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import time
from pathlib import Path

import av
import numpy as np
import pytest

from matthan.simulator import scene
from matthan.simulator.runner import SimulatedCameras

# Each test is bounded; together (footage cached) they run in well under 90 s, the longest wait being the alignment.
pytestmark = pytest.mark.timeout(90)

FAST_OPEN = {"rtsp_transport": "tcp", "analyzeduration": "500000", "probesize": "100000", "timeout": "5000000"}
ALIGNMENT_TOLERANCE_S = 0.5


def ffprobe(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", *args, "-of", "json", url],
                          capture_output=True, text=True, timeout=30)  # fmt: skip


def streams_of(url: str) -> list[dict]:
    result = ffprobe(url, "-show_entries", "stream=codec_type,codec_name,width,height")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["streams"]


@pytest.mark.parametrize("camera", [1, 2])
def test_main_and_sub_are_h264_at_their_sizes(sim_cameras: SimulatedCameras, camera: int) -> None:
    for url, (width, height) in ((sim_cameras.main_url(camera), sim_cameras.main_size),
                                 (sim_cameras.sub_url(camera), sim_cameras.sub_size)):  # fmt: skip
        streams = streams_of(url)
        assert [(s["codec_type"], s["codec_name"], s["width"], s["height"]) for s in streams] == [
            ("video", "h264", width, height)
        ]


def test_stream_copy_recording_lasts_as_long_as_asked_with_rising_timestamps(
    sim_cameras: SimulatedCameras, tmp_path: Path
) -> None:
    out = tmp_path / "rec.ts"
    started = time.monotonic()
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", sim_cameras.main_url(1),
                    "-c", "copy", "-t", "6", str(out)], check=True, timeout=30)  # fmt: skip
    elapsed = time.monotonic() - started
    assert elapsed > 5.5, "frames are paced by the wall clock, not pushed as fast as possible"
    duration = float(json.loads(ffprobe(str(out), "-show_entries", "format=duration").stdout)["format"]["duration"])
    assert 5.5 <= duration <= 6.5
    packets = json.loads(ffprobe(str(out), "-show_entries", "packet=pts,flags").stdout)["packets"]
    pts = [int(p["pts"]) for p in packets]
    assert all(b > a for a, b in zip(pts, pts[1:])), "PTS must rise strictly (equal RTP timestamps break recorders)"
    assert len(pts) >= 6 * scene.FPS - 3
    assert packets[0]["flags"].startswith("K")  # a recording starts decodable


def next_transition(after: float) -> tuple[float, str]:
    """The soonest crossing start or end at or after `after` (UTC seconds) and which one it is."""
    marks = []
    for start, end in scene.intervals(after, after + 2 * scene.CYCLE_SECONDS, moving=True):
        marks += [(start, "start"), (end, "end")]
    return min(m for m in marks if m[0] >= after)


def changed(frame: np.ndarray, reference: np.ndarray) -> bool:
    # a handful of strongly changed pixels: the object's first sliver, but never compression noise
    return int((np.abs(frame - reference) > 25).sum()) >= 6


def test_motion_starts_and_stops_on_the_wall_clock(
    sim_cameras: SimulatedCameras, record_property: pytest.RecordProperty
) -> None:
    # wait for whichever crossing start or end comes soonest (< 20 s), not a whole cycle
    event, kind = next_transition(time.time() + 3.5)
    time.sleep(max(0.0, event - 3.0 - time.time()))
    arrivals: list[float] = []
    frames: list[np.ndarray] = []
    with av.open(sim_cameras.sub_url(1), options=FAST_OPEN, timeout=10) as container:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"  # frame threading would hold each frame back by a few frames
        for frame in container.decode(stream):
            arrivals.append(time.time())
            frames.append(frame.to_ndarray(format="gray").astype(np.int16))
            if arrivals[-1] > event + 2.0:
                break
    times = np.array(arrivals)
    assert times[0] < event - 1.0, "the stream opened too late to see the still side"
    still_side = times < event - 1.0 if kind == "start" else times > event + 1.0
    reference = np.median(np.stack([f for f, s in zip(frames, still_side) if s]), axis=0)
    moving = np.array([changed(f, reference) for f in frames])
    if kind == "start":
        assert not moving[times < event - ALIGNMENT_TOLERANCE_S].any(), "still frames must not look like motion"
        detected = times[np.argmax(moving)]
        assert moving[times > event + ALIGNMENT_TOLERANCE_S].all()
    else:
        assert moving[times < event - ALIGNMENT_TOLERANCE_S].all()
        last_moving = int(np.nonzero(moving)[0].max())
        detected = times[last_moving + 1]
        assert not moving[last_moving + 1 :].any()
    error = float(detected - event)
    record_property("alignment_error_s", round(error, 3))
    print(f"crossing {kind} at cycle {math.fmod(event, scene.CYCLE_SECONDS):.0f} s: seen {error:+.3f} s off")
    assert abs(error) <= ALIGNMENT_TOLERANCE_S


def test_wrong_password_is_refused_and_the_right_one_works(sim_cameras_auth: SimulatedCameras) -> None:
    cams = sim_cameras_auth
    anonymous = cams.url("/cam1/sub", credentials=False)
    wrong = anonymous.replace("rtsp://", f"rtsp://{cams.user}:not-the-password@")
    for url in (anonymous, wrong):
        result = ffprobe(url, "-show_entries", "stream=codec_type")
        assert result.returncode != 0 and "401" in result.stderr
    assert [s["codec_name"] for s in streams_of(cams.sub_url(1))] == ["h264"]
    assert "%3A" in cams.sub_url(1)  # the ':' in the password is percent-encoded


def test_audio_only_mount_has_no_video(sim_cameras: SimulatedCameras) -> None:
    streams = streams_of(sim_cameras.audio_url)
    assert streams and all(s["codec_type"] == "audio" for s in streams)


def test_stop_ends_the_server_and_frees_the_port(footage_cache: Path) -> None:
    cameras = SimulatedCameras(footage_cache, count=1, main_size=(640, 360), sub_size=(320, 180)).start()
    port = cameras.port
    assert cameras.running
    cameras.stop()
    assert not cameras.running
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
