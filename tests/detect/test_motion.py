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


def test_masked_motion_is_ignored_and_unmasked_is_not() -> None:
    from config.inventory import CameraDetectionConfig

    masked = CameraDetectionConfig(masks=[[(0.4, 0.5), (0.7, 0.5), (0.7, 1.0), (0.4, 1.0)]])
    det = MotionDetector(CFG, masked)
    det.detect(scene(), 0.0)
    det.detect(scene(), 0.2)
    assert not det.detect(scene(x=300), 0.4).moving  # the block sits inside the mask (x 256..448)
    det2 = MotionDetector(CFG, masked)
    det2.detect(scene(), 0.0)
    det2.detect(scene(), 0.2)
    assert det2.detect(scene(x=40), 0.4).moving


def test_lights_switching_recalibrate_instead_of_moving() -> None:
    det = MotionDetector(CFG)
    for i in range(5):
        det.detect(scene(), i / 5)
    brighter = np.clip(scene().astype(int) + 80, 0, 255).astype(np.uint8)  # IR switch / street lights
    result = det.detect(brighter, 1.0)
    assert result.recalibrated and not result.moving
    assert not any(det.detect(brighter, 1.0 + i / 5).moving for i in range(1, 10))
    assert det.detect(np.clip(scene(x=300).astype(int) + 80, 0, 255).astype(np.uint8), 3.2).moving


def test_zones_by_ground_point() -> None:
    from detect.zones import ZoneMap

    zones = ZoneMap({"cổng trường": [(0.0, 0.6), (0.5, 0.6), (0.5, 1.0), (0.0, 1.0)],
                     "ngã ba": [(0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)]})
    assert zones.zones_of((100, 200, 60, 60), 640, 360) == ["cổng trường"]  # ground point (130, 260)
    assert zones.zones_of((400, 10, 60, 60), 640, 360) == ["ngã ba"]
    assert zones.zones_of((100, 10, 60, 60), 640, 360) == []


def street(x: int | None = None, seed: int = 0) -> np.ndarray:
    """A textured still view (edges everywhere, like a real street), with an optional vehicle."""
    rng = np.random.default_rng(1234)
    img = np.repeat(rng.integers(40, 200, (36, 64), dtype=np.uint8), 10, axis=0).repeat(10, axis=1)
    img = np.dstack([img] * 3)
    if x is not None:
        img[240:300, x:x + 60] = 230
    noise = np.random.default_rng(seed).normal(0, 1.5, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def test_tamper_covered_blurred_and_turned_but_not_a_passing_vehicle() -> None:
    import cv2

    from detect.tamper import CHECK_EVERY_S, TamperDetector, TamperEnded, TamperStarted

    cfg = DetectConfig(tamper_seconds=3.0)
    normal = [(street(seed=i), i / 5) for i in range(30)]  # the normal view is learnt from the first 5 s
    cases = {
        "covered": [np.full_like(street(), 20) for _ in range(25)],
        "blurred": [cv2.GaussianBlur(street(), (31, 31), 0) for _ in range(25)],
        "turned": [np.ascontiguousarray(street(seed=i)[::-1, ::-1]) for i in range(25)],
    }
    for name, frames in cases.items():
        tamper = TamperDetector(cfg)
        changes = [c for img, at in normal for c in tamper.update(img, at)]
        changes += [c for i, img in enumerate(frames) for c in tamper.update(img, 6.0 + i / 5)]
        # the view is judged every CHECK_EVERY_S, so a change is placed that late at most
        assert len(changes) == 1 and isinstance(changes[0], TamperStarted), (name, changes)
        assert changes[0].reason == ("turned" if name == "turned" else "covered"), name
        assert 6.0 <= changes[0].at <= 6.0 + CHECK_EVERY_S, (name, changes)
        back = [c for i in range(25) for c in tamper.update(street(seed=i), 11.0 + i / 5)]
        assert len(back) == 1 and isinstance(back[0], TamperEnded) and back[0].start == changes[0].at, (name, back)
        assert 11.0 <= back[0].end <= 11.0 + CHECK_EVERY_S, (name, back)
    tamper = TamperDetector(cfg)
    passing = [c for img, at in normal for c in tamper.update(img, at)]
    passing += [c for i in range(10) for c in tamper.update(street(x=50 + 40 * i, seed=i), 6.0 + i / 5)]
    assert passing == [] and not tamper.active


def test_tamper_a_camera_that_starts_covered_is_not_turned_when_uncovered() -> None:
    from detect.tamper import TamperDetector

    tamper = TamperDetector(DetectConfig(tamper_seconds=3.0))
    dark = [c for i in range(15) for c in tamper.update(np.full_like(street(), 20), i / 5)]
    uncovered = [c for i in range(50) for c in tamper.update(street(seed=i), 3.0 + i / 5)]
    assert dark == [] and uncovered == [] and not tamper.active
