"""ObjectDetector with a real YOLO model trained on the simulator's street, on real frames and real motion boxes."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MODEL_CACHE
from tests.detect.model_factory import DEFAULT, HELD_OUT_CAMERAS, offline_ultralytics

offline_ultralytics(MODEL_CACHE / "ultralytics-config")  # at collection, before any test imports ultralytics

from config.settings import DetectConfig  # noqa: E402
from detect import labels  # noqa: E402
from detect.motion import MotionDetector  # noqa: E402
from detect.objects import Detection, Detections, DetectorUnavailable, ObjectDetector, plan_crops  # noqa: E402
from matthan.simulator import scene  # noqa: E402
from matthan.simulator.footage import StreetRenderer  # noqa: E402

# The first run trains the model (about 4 minutes on 2 cores, in the background: tests/conftest.py); later runs load it
# from the cache in a second.
pytestmark = [pytest.mark.timeout(1800), pytest.mark.trained_model]

WIDTH, HEIGHT = 640, 360
MOTORBIKE_T, PERSON_T, EMPTY_T = 11.5, 28.0, 20.0


@pytest.fixture(scope="session")
def model_path(test_model: Path) -> Path:
    return test_model


@pytest.fixture(scope="session")
def detector(model_path: Path) -> ObjectDetector:
    return ObjectDetector.load(model_path, imgsz=DEFAULT.imgsz, min_scores={"motorbike": 0.5, "person": 0.5})


@pytest.fixture(scope="session")
def street() -> StreetRenderer:
    return StreetRenderer(camera_index=HELD_OUT_CAMERAS[0], width=WIDTH, height=HEIGHT)


def frame(street: StreetRenderer, t: float) -> np.ndarray:
    return street.frame(t, round(t * scene.FPS))


def truth(street: StreetRenderer, t: float, kind: str) -> tuple[int, int, int, int]:
    found = street.object_box(t)
    assert found is not None and found[0] == kind
    return found[1]


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    iw = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


# --- loading ------------------------------------------------------------------------------------------------------

def test_missing_weights_say_where_to_put_them(tmp_path: Path) -> None:
    path = tmp_path / "models" / "yolo11n.pt"
    with pytest.raises(DetectorUnavailable) as info:
        ObjectDetector.load(path, imgsz=320, min_scores={})
    message = str(info.value)
    assert f"put the weights, e.g. yolo11n.pt, at {path}" in message and "detect.model_path" in message


@pytest.mark.parametrize("content", [b"", b"this is not a checkpoint\n" * 40], ids=["empty", "garbage"])
def test_corrupt_weights_are_unavailable_not_a_crash(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "yolo11n.pt"
    path.write_bytes(content)
    with pytest.raises(DetectorUnavailable) as info:
        ObjectDetector.load(path, imgsz=320, min_scores={})
    message = str(info.value)
    assert f"cannot load the object detection model {path}" in message
    assert "replace it with valid YOLO weights, e.g. yolo11n.pt" in message
    assert path.read_bytes() == content  # never "repaired" by a download


def test_bad_arguments_fail_before_loading(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        ObjectDetector.load(tmp_path / "x.pt", imgsz=300, min_scores={})
    with pytest.raises(KeyError, match="unknown object label 'dog'"):
        ObjectDetector.load(tmp_path / "x.pt", imgsz=320, min_scores={"dog": 0.5})


def test_importing_the_module_does_not_import_ultralytics() -> None:
    code = "import sys, detect.objects; sys.exit(bool({'ultralytics', 'torch'} & set(sys.modules)))"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=Path(__file__).resolve().parents[2])


# --- detection on real frames -------------------------------------------------------------------------------------

def test_finds_the_motorbike(detector: ObjectDetector, street: StreetRenderer) -> None:
    found = detector.detect(frame(street, MOTORBIKE_T))
    best = found.best("motorbike")
    assert best is not None, list(found)
    assert best.score >= 0.5 and iou(best.box, truth(street, MOTORBIKE_T, "motorbike")) >= 0.5
    assert (best.display("vi"), best.display("en"), best.kind) == ("xe máy", "motorbike", "vehicle")
    assert found.by_priority() == ("motorbike",)


def test_finds_the_person(detector: ObjectDetector, street: StreetRenderer) -> None:
    found = detector.detect(frame(street, PERSON_T))
    best = found.best("person")
    assert best is not None, list(found)
    assert iou(best.box, truth(street, PERSON_T, "person")) >= 0.5
    assert (best.display("vi"), best.kind) == ("người", "person")
    assert found.by_priority() == ("person",)


def test_empty_street_has_nothing(model_path: Path, street: StreetRenderer) -> None:
    # a quarter, not the usual half: an empty frame should not even come close
    wary = ObjectDetector.load(model_path, imgsz=DEFAULT.imgsz, min_scores={k: 0.25 for k in labels.BY_KEY})
    for t in (EMPTY_T, 2.0, 36.0):
        assert len(wary.detect(frame(street, t))) == 0, t


def test_region_mode_finds_the_motorbike_from_real_motion_boxes(detector: ObjectDetector,
                                                                street: StreetRenderer) -> None:
    motion = MotionDetector(DetectConfig())
    result = None
    for t in np.arange(MOTORBIKE_T - 3.0, MOTORBIKE_T + 0.01, 1 / 5):  # the detect fps
        result = motion.detect(frame(street, float(t)), at=float(t))
    assert result is not None and result.moving
    calls = detector.calls
    found = detector.detect(frame(street, MOTORBIKE_T), list(result.boxes))
    assert detector.calls == calls + 1
    best = found.best("motorbike")
    assert best is not None and best.score >= 0.5, list(found)
    assert iou(best.box, truth(street, MOTORBIKE_T, "motorbike")) >= 0.5  # mapped back to frame coordinates
    assert len(detector.detect(frame(street, MOTORBIKE_T), [])) == 0  # nothing moved: no model call
    assert detector.calls == calls + 1


def test_min_score_per_label(model_path: Path, street: StreetRenderer) -> None:
    strict = ObjectDetector.load(model_path, imgsz=DEFAULT.imgsz, min_scores={"motorbike": 0.999, "person": 0.3})
    assert strict.detect(frame(street, MOTORBIKE_T)).best("motorbike") is None
    assert strict.detect(frame(street, PERSON_T)).best("person") is not None


def test_held_out_accuracy(detector: ObjectDetector) -> None:
    """The model factory's promise: ≥ 90% of fully visible motorbikes found (score ≥ 0.5, IoU ≥ 0.5) on cameras
    it never saw, and nothing on the empty street."""
    hits, total, false_alarms = 0, 0, 0
    for camera in HELD_OUT_CAMERAS:
        renderer = StreetRenderer(camera_index=camera, width=WIDTH, height=HEIGHT)
        for t in np.arange(8.0, 15.0, 0.25):
            _, box = renderer.object_box(float(t)) or ("", (0, 0, 0, 0))
            if box[2] == 0 or box[0] == 0 or box[0] + box[2] >= WIDTH:
                continue  # entering or leaving: not fully visible
            best = detector.detect(frame(renderer, float(t))).best("motorbike")
            total += 1
            hits += best is not None and iou(best.box, box) >= 0.5
        for t in np.arange(0.5, 8.0, 1.5):
            false_alarms += len(detector.detect(frame(renderer, float(t))))
    assert total >= 30
    assert hits / total >= 0.9, f"{hits}/{total}"
    assert false_alarms == 0


def test_one_detector_serves_many_camera_threads(detector: ObjectDetector, street: StreetRenderer) -> None:
    images = [frame(street, t) for t in (MOTORBIKE_T, PERSON_T, EMPTY_T)]
    expected = [detector.detect(image).by_priority() for image in images]
    calls = detector.calls
    got: dict[int, list[tuple[str, ...]]] = {}

    def camera(n: int) -> None:
        got[n] = [detector.detect(image).by_priority() for image in images]

    threads = [threading.Thread(target=camera, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(got[n] == expected for n in range(4))
    assert detector.calls == calls + 4 * len(images)


def test_from_ultralytics_maps_scaled_results_back(model_path: Path, street: StreetRenderer) -> None:
    from ultralytics import YOLO

    model = YOLO(str(model_path))
    image = frame(street, MOTORBIKE_T)
    half = image[::2, ::2].copy()
    result = model.predict(half, imgsz=DEFAULT.imgsz, verbose=False)[0]
    found = Detections.from_ultralytics(result, offset=(0, 0), scale=2.0)
    best = found.best("motorbike")
    assert best is not None and iou(best.box, truth(street, MOTORBIKE_T, "motorbike")) >= 0.5
    # the model's own names (COCO's "motorcycle") became our keys; classes we do not map are gone
    assert set(found.labels) <= set(labels.BY_KEY)
    shifted = Detections.from_ultralytics(result, offset=(100, 50), scale=2.0)
    assert np.allclose(shifted.boxes[:, :2], found.boxes[:, :2] + [100, 50]) and np.allclose(
        shifted.boxes[:, 2:], found.boxes[:, 2:])


# --- pure parts ---------------------------------------------------------------------------------------------------

def test_detections_check_their_shapes() -> None:
    empty = Detections.empty()
    assert len(empty) == 0 and empty.boxes.shape == (0, 4) and empty.best() is None
    assert len(Detections(labels=(), scores=np.array([]), boxes=np.array([]))) == 0
    with pytest.raises(ValueError, match=r"scores must have shape \(1,\)"):
        Detections(labels=("car",), scores=np.zeros(2), boxes=np.zeros((1, 4)))
    with pytest.raises(ValueError, match=r"boxes must have shape \(1, 4\)"):
        Detections(labels=("car",), scores=np.zeros(1), boxes=np.zeros((1, 5)))
    with pytest.raises(KeyError, match="unknown object label"):
        Detections(labels=("dog",), scores=np.zeros(1), boxes=np.zeros((1, 4)))
    with pytest.raises(ValueError, match="score"):
        Detection(label="car", score=1.5, box=(0, 0, 1, 1))


def test_detections_are_frozen_and_filter_per_label() -> None:
    found = Detections(labels=("person", "motorbike", "car"), scores=np.array([0.4, 0.6, 0.3]),
                       boxes=np.array([[0, 0, 10, 20], [5, 5, 30, 30.4], [1, 1, 2, 2]]))  # fmt: skip
    with pytest.raises(ValueError):
        found.scores[0] = 1.0  # read-only
    one = found[1]
    assert (one.label, one.score, one.box) == ("motorbike", pytest.approx(0.6), (5, 5, 30, 30))
    assert found.above({"person": 0.35}).labels == ("person", "motorbike")  # car falls to the 0.5 default
    assert found.above({"motorbike": 0.7, "car": 0.1}).labels == ("car",)
    assert found.by_priority() == ("motorbike", "car", "person")
    assert Detections.concat([found, Detections.empty(), found]).boxes.shape == (6, 4)
    assert isinstance(found, Sequence) and found[1:].labels == ("motorbike", "car") and len(found[5:]) == 0
    assert [d.label for d in found] == list(found.labels) and found[-1].label == "car"


def test_labels_map_model_names() -> None:
    assert labels.from_model_name("motorcycle").key == "motorbike"  # type: ignore[union-attr]
    assert labels.from_model_name("Motorbike").key == "motorbike"  # type: ignore[union-attr]
    assert labels.from_model_name("dog") is None
    assert [c.key for c in labels.CLASSES][0] == "motorbike"
    assert {c.key: c.kind for c in labels.CLASSES} == {"motorbike": "vehicle", "car": "vehicle", "bus": "vehicle",
                                                        "truck": "vehicle", "bicycle": "vehicle", "person": "person"}
    assert [labels.label(k) for k in ("car", "bus", "truck", "bicycle")] == ["ô tô", "xe buýt", "xe tải", "xe đạp"]


def test_crops_grow_merge_and_give_way_to_the_whole_frame() -> None:
    # one small region: a model-sized square around it, inside the frame
    assert plan_crops([(600, 300, 30, 40)], 1280, 720, min_size=320) == [(455, 160, 320, 320)]
    assert plan_crops([(1260, 700, 20, 20)], 1280, 720, min_size=320) == [(960, 400, 320, 320)]  # shifted in
    # two regions close together share one crop; far apart they get two
    assert len(plan_crops([(100, 100, 20, 20), (200, 120, 20, 20)], 1280, 720, min_size=320) or []) == 1
    assert len(plan_crops([(50, 50, 20, 20), (1100, 600, 20, 20)], 1280, 720, min_size=320) or []) == 2
    # too many separate regions, or crops covering most of the frame: the whole frame instead
    spread = [(x, y, 10, 10) for x in (20, 420, 820, 1220) for y in (20, 620)]
    assert plan_crops(spread, 1280, 720, min_size=320, max_crops=3) is None
    assert plan_crops([(10, 10, 600, 300)], 640, 360, min_size=256) is None
    assert plan_crops([], 640, 360, min_size=256) == []
    # the margin keeps the object's still parts: a big region grows beyond min_size
    (big,) = plan_crops([(400, 200, 300, 300)], 1280, 720, min_size=320, margin=0.25) or [None]
    assert big == (325, 125, 450, 450)
