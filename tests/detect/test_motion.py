"""Motion logic on synthetic frames: still scenes, a moving block, noise, hysteresis and splitting."""

from __future__ import annotations

import numpy as np

from config.settings import DetectConfig
from detect.motion import MotionDetector, MotionEnded, MotionGate, MotionResult, MotionStarted

CFG = DetectConfig(frame_width=160, min_area=0.002, start_frames=2, end_seconds=2.0, max_event_seconds=30.0)


def scene(x: int | None = None, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    img = np.full((360, 640, 3), 90, np.uint8)
    img[200:, :] = 60  # road
    if x is not None:
        img[240:300, x:x + 60] = 220  # a bright vehicle-sized block
    if noise:
        rng = np.random.default_rng(seed)
        img = np.clip(img + rng.normal(0, noise, img.shape), 0, 255).astype(np.uint8)
    return img


def test_still_noisy_scene_has_no_motion() -> None:
    det = MotionDetector(CFG)
    results = [det.detect(scene(noise=2.0, seed=i), i / 5) for i in range(50)]
    assert not any(r.moving for r in results)


def test_moving_block_is_found_where_it_is() -> None:
    det = MotionDetector(CFG)
    for i in range(10):
        det.detect(scene(), i / 5)
    result = det.detect(scene(x=300), 2.0)
    assert result.moving and result.area > CFG.min_area
    x, y, w, h = max(result.boxes, key=lambda b: b[2] * b[3])
    assert 270 <= x <= 310 and 210 <= y <= 250 and w >= 50 and h >= 50  # in source-frame pixels


def test_small_change_below_min_area_is_ignored() -> None:
    det = MotionDetector(CFG)
    det.detect(scene(), 0.0)
    img = scene()
    img[10:13, 10:13] = 255  # 9 pixels: far below 0.2 % of the frame
    assert not det.detect(img, 0.2).moving


def moving(at: float, on: bool) -> MotionResult:
    return MotionResult(at=at, area=0.01 if on else 0.0, boxes=((0, 0, 10, 10),) if on else ())


def run(gate: MotionGate, pattern: list[tuple[float, bool]]) -> list[MotionStarted | MotionEnded]:
    out: list[MotionStarted | MotionEnded] = []
    for at, on in pattern:
        out += gate.update(moving(at, on))
    return out


def test_hysteresis_needs_consecutive_frames_to_start() -> None:
    gate = MotionGate.from_config(CFG)
    assert run(gate, [(0.0, True), (0.2, False), (0.4, True), (0.6, False)]) == []
    assert run(gate, [(1.0, True), (1.2, True)]) == [MotionStarted(1.0)]


def test_short_gaps_do_not_end_an_event_and_the_end_is_the_last_motion() -> None:
    gate = MotionGate.from_config(CFG)
    frames = [(t / 5, True) for t in range(0, 20)] + [(4.0 + t / 5, False) for t in range(1, 6)]  # 1 s gap
    frames += [(5.2 + t / 5, True) for t in range(5)] + [(6.2 + t / 5, False) for t in range(1, 15)]
    changes = run(gate, frames)
    assert changes == [MotionStarted(0.0), MotionEnded(0.0, 6.0)]
    assert not gate.active


def test_long_motion_is_split() -> None:
    gate = MotionGate.from_config(CFG)
    changes = run(gate, [(t / 5, True) for t in range(0, 5 * 65)])
    assert changes[:3] == [MotionStarted(0.0), MotionEnded(0.0, 30.0), MotionStarted(30.0)]
    assert gate.close() == [MotionEnded(60.0, 64.8)]


def test_an_object_present_at_start_leaves_no_lasting_ghost() -> None:
    """The first frame holds a parked vehicle that then leaves: motion for at most ~1 s, not until absorbed."""
    det = MotionDetector(CFG)
    det.detect(scene(x=300), 0.0)
    results = [det.detect(scene(noise=1.0, seed=i), 0.2 * i) for i in range(1, 40)]
    assert not any(r.moving for r in results if r.at > 1.5)


def test_a_slow_object_stays_detected_while_it_moves() -> None:
    det = MotionDetector(CFG)
    for i in range(10):
        det.detect(scene(), i / 5)
    # 2 px per frame at 640 wide: a walker far away; must stay "moving" for the whole 10 s crossing
    results = [det.detect(scene(x=100 + 2 * i), 2.0 + i / 5) for i in range(50)]
    assert sum(r.moving for r in results[2:]) >= 0.9 * len(results[2:])
