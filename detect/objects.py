"""Object detection with an ultralytics YOLO model on whole frames or motion regions, converted into Detections."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np

from detect import labels

logger = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # x, y, w, h in the source frame's pixels

DEFAULT_MIN_SCORE = 0.5
# Motion boxes hug the changed pixels; an object's still parts (a rider's head, a parked wheel) stick out of them.
REGION_MARGIN = 0.25  # of the motion box's longer side, added on every side
MAX_CROPS = 3  # more separate regions than this cost more than one look at the whole frame
# Crops covering this share of the frame or more: the whole frame is cheaper (it is scaled down, crops are not).
WHOLE_FRAME_SHARE = 0.6


class DetectorUnavailable(RuntimeError):
    """The object detector cannot run (missing or unreadable weights, no ultralytics); the message says what to do."""


@dataclass(frozen=True)
class Detection:
    label: str  # a key of detect.labels: "motorbike", "person", ...
    score: float
    box: Box

    def __post_init__(self) -> None:
        labels.get(self.label)  # KeyError for labels we do not know
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score must be in [0, 1], got {self.score}")
        if len(self.box) != 4 or self.box[2] < 0 or self.box[3] < 0:
            raise ValueError(f"box must be (x, y, w, h) with w, h >= 0, got {self.box}")

    @property
    def kind(self) -> str:
        return labels.get(self.label).kind

    def display(self, language: str = "vi") -> str:
        return labels.label(self.label, language)


@dataclass(frozen=True, eq=False)  # eq on numpy arrays is ambiguous; identity will do
class Detections(Sequence[Detection]):
    """N detections in one frame: labels (N,), scores (N,) and boxes (N, 4) as x, y, w, h in frame pixels."""

    labels: tuple[str, ...]
    scores: np.ndarray
    boxes: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.labels)
        scores = np.asarray(self.scores, dtype=np.float32)
        boxes = np.asarray(self.boxes, dtype=np.float32)
        if scores.shape != (n,):
            raise ValueError(f"scores must have shape ({n},), got {np.shape(self.scores)}")
        if n == 0 and boxes.size == 0:
            boxes = boxes.reshape(0, 4)  # np.array([]) is a fine "no boxes"
        if boxes.shape != (n, 4):
            raise ValueError(f"boxes must have shape ({n}, 4), got {np.shape(self.boxes)}")
        for key in self.labels:
            labels.get(key)
        # read-only copies: a frozen dataclass whose arrays could change underneath would only pretend to be frozen
        scores, boxes = scores.copy(), boxes.copy()
        scores.flags.writeable = boxes.flags.writeable = False
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "boxes", boxes)

    @classmethod
    def empty(cls) -> Detections:
        return cls(labels=(), scores=np.zeros(0, np.float32), boxes=np.zeros((0, 4), np.float32))

    @classmethod
    def from_ultralytics(cls, result: Any, *, offset: tuple[int, int] = (0, 0), scale: float = 1.0,
                         names: Mapping[int, str] | None = None) -> Detections:
        """Convert one ultralytics Results. Boxes map to the frame as offset + box * scale (a crop's origin and the
        factor it was resized by); classes that detect.labels does not map are dropped. `names`: the model's class
        names by id, default the result's own."""
        found = result.boxes
        if found is None or len(found) == 0:
            return cls.empty()
        names = result.names if names is None else names
        xyxy, conf, cls_ids = (_numpy(v) for v in (found.xyxy, found.conf, found.cls))
        keep, keys = [], []
        for i, class_id in enumerate(cls_ids.astype(int)):
            mapped = labels.from_model_name(str(names.get(int(class_id), "")))
            if mapped is not None:
                keep.append(i)
                keys.append(mapped.key)
        xyxy = xyxy[keep].astype(np.float32).reshape(-1, 4)
        boxes = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1) * scale
        boxes[:, :2] += np.asarray(offset, np.float32)
        return cls(labels=tuple(keys), scores=conf[keep], boxes=boxes)

    @classmethod
    def concat(cls, parts: Sequence[Detections]) -> Detections:
        if not parts:
            return cls.empty()
        return cls(labels=tuple(k for p in parts for k in p.labels),
                   scores=np.concatenate([p.scores for p in parts]),
                   boxes=np.concatenate([p.boxes for p in parts]).reshape(-1, 4))  # fmt: skip

    def __len__(self) -> int:
        return len(self.labels)

    @overload
    def __getitem__(self, i: int) -> Detection: ...
    @overload
    def __getitem__(self, i: slice) -> Detections: ...
    def __getitem__(self, i: int | slice) -> Detection | Detections:
        if isinstance(i, slice):
            return self.select(np.arange(len(self))[i])
        x, y, w, h = (int(round(float(v))) for v in self.boxes[i])
        return Detection(label=self.labels[i], score=float(np.clip(self.scores[i], 0.0, 1.0)), box=(x, y, w, h))

    def __iter__(self) -> Iterator[Detection]:
        return (self[i] for i in range(len(self)))

    def select(self, which: np.ndarray) -> Detections:
        """The detections at the given indices, or where a boolean mask is true."""
        index = np.flatnonzero(which) if which.dtype == bool else which
        return Detections(labels=tuple(self.labels[i] for i in index), scores=self.scores[index],
                          boxes=self.boxes[index])  # fmt: skip

    def above(self, min_scores: Mapping[str, float], default: float = DEFAULT_MIN_SCORE) -> Detections:
        """Only detections scoring at least their label's minimum (`default` for labels not named)."""
        limits = np.array([min_scores.get(k, default) for k in self.labels], np.float32)
        return self.select(self.scores >= limits)

    def best(self, label: str | None = None) -> Detection | None:
        """The highest-scoring detection, of `label` if given."""
        candidates = [i for i, k in enumerate(self.labels) if label is None or k == label]
        return self[max(candidates, key=lambda i: self.scores[i])] if candidates else None

    def by_priority(self) -> tuple[str, ...]:
        """The distinct labels present, most important first (detect.labels order)."""
        return tuple(sorted(set(self.labels), key=labels.priority))


def _unloadable(path: Path, exc: Exception) -> str:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "no detail"
    return (f"cannot load the object detection model {path} ({type(exc).__name__}: {detail}); "
            "replace it with valid YOLO weights, e.g. yolo11n.pt (detect.model_path)")


def _numpy(value: Any) -> np.ndarray:
    # ultralytics hands torch tensors; .cpu() first so a GPU model works too, without importing torch here
    return np.asarray(value.cpu().numpy() if hasattr(value, "cpu") else value)


def plan_crops(regions: Sequence[Box], frame_w: int, frame_h: int, *, min_size: int, margin: float = REGION_MARGIN,
               max_crops: int = MAX_CROPS, whole_share: float = WHOLE_FRAME_SHARE) -> list[Box] | None:
    """Crops (x, y, w, h) that cover the motion `regions`, or None when the whole frame is the better input.

    Each region grows by `margin` and to at least min_size (the model's input size) square, so the model sees
    objects at native resolution with some context, like the Frigate regions; overlapping crops merge."""
    crops: list[Box] = []
    for x, y, w, h in regions:
        if w <= 0 or h <= 0:
            continue
        pad = margin * max(w, h)
        cw, ch = min(frame_w, max(round(w + 2 * pad), min_size)), min(frame_h, max(round(h + 2 * pad), min_size))
        # centred on the region, shifted (not cut) to stay inside the frame
        cx = min(max(0, round(x + w / 2 - cw / 2)), frame_w - cw)
        cy = min(max(0, round(y + h / 2 - ch / 2)), frame_h - ch)
        crops.append((cx, cy, cw, ch))
    merged = True
    while merged:
        merged = False
        for i in range(len(crops)):
            for j in range(i + 1, len(crops)):
                a, b = crops[i], crops[j]
                if a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]:
                    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
                    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
                    crops[i] = (x0, y0, x1 - x0, y1 - y0)
                    del crops[j]
                    merged = True
                    break
            if merged:
                break
    if len(crops) > max_crops or sum(w * h for _, _, w, h in crops) >= whole_share * frame_w * frame_h:
        return None
    return crops


class ObjectDetector:
    """A YOLO model behind a lock (one detector serves one thread per camera). Build with `load`."""

    def __init__(self, model: Any, *, path: Path, imgsz: int, min_scores: Mapping[str, float], device: str,
                 max_crops: int = MAX_CROPS) -> None:
        self._model = model
        self.path = path
        self.imgsz = imgsz
        self.device = device
        self.max_crops = max_crops
        self.min_scores = dict(min_scores)
        self.names: dict[int, str] = {int(k): str(v) for k, v in model.names.items()}
        mapped = {i: c for i, name in self.names.items() if (c := labels.from_model_name(name)) is not None}
        self._class_ids = sorted(mapped)  # the model skips the other classes already in its NMS
        self.labels = tuple(sorted({c.key for c in mapped.values()}, key=labels.priority))  # what it can report
        # ask the model for everything above the lowest threshold, then apply each label's own
        self._conf = min([DEFAULT_MIN_SCORE, *self.min_scores.values()])
        self._lock = threading.Lock()
        self._calls = 0
        self._images = 0

    @classmethod
    def load(cls, path: Path, *, imgsz: int, min_scores: Mapping[str, float], device: str = "cpu",
             max_crops: int = MAX_CROPS) -> ObjectDetector:
        """Load weights (e.g. yolo11n.pt); DetectorUnavailable says what to do when that cannot work."""
        path = Path(path).expanduser().resolve()
        if not 32 <= imgsz <= 4096 or imgsz % 32:
            raise ValueError(f"imgsz must be a multiple of 32 in [32, 4096], got {imgsz}")
        for key, value in min_scores.items():
            labels.get(key)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"min score for {key} must be in [0, 1], got {value}")
        if not path.is_file():
            raise DetectorUnavailable(f"no object detection model at {path}: put the weights, e.g. yolo11n.pt, at "
                                      f"{path} (detect.model_path)")  # fmt: skip
        # A detector must never pip-install or phone home at run time; ultralytics reads these when imported.
        os.environ.setdefault("YOLO_OFFLINE", "1")
        os.environ.setdefault("YOLO_AUTOINSTALL", "0")
        try:
            from ultralytics import YOLO  # lazy: importing torch costs seconds, and motion-only setups skip it
        except ImportError as exc:
            raise DetectorUnavailable(f"ultralytics is not installed ({exc}); install the project's dependencies "
                                      "(pip install -e .)") from exc  # fmt: skip
        try:
            # an absolute path: given a bare asset name, ultralytics would try to download it
            model = YOLO(str(path), task="detect")
            detector = cls(model, path=path, imgsz=imgsz, min_scores=min_scores, device=device, max_crops=max_crops)
        except Exception as exc:  # torch/ultralytics raise many types for one condition: unusable weights
            raise DetectorUnavailable(_unloadable(path, exc)) from exc
        if not detector.labels:
            raise DetectorUnavailable(f"the model {path} knows none of the classes we look for "
                                      f"({', '.join(labels.BY_KEY)}); use a COCO-trained model such as yolo11n.pt")
        try:
            detector._predict([np.zeros((imgsz, imgsz, 3), np.uint8)])  # warm up; fails here, not on the first frame
        except Exception as exc:
            raise DetectorUnavailable(_unloadable(path, exc)) from exc
        detector._calls = detector._images = 0  # the warm-up is not a detection
        logger.info("object detector %s loaded (imgsz %d, %s, labels %s)", path.name, imgsz, device, detector.labels)
        return detector

    @property
    def calls(self) -> int:
        """Model invocations so far (each runs the whole frame or all of one frame's crops)."""
        return self._calls

    @property
    def images(self) -> int:
        """Images the model looked at so far (frames plus crops)."""
        return self._images

    def detect(self, image: np.ndarray, regions: Sequence[Box] | None = None) -> Detections:
        """Objects in a BGR frame (H, W, 3 uint8): in the whole frame when regions is None, else around the motion
        regions (x, y, w, h in this frame's pixels; an empty list means nothing moved, so no model call)."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected a BGR uint8 image of shape (H, W, 3), got {image.shape} {image.dtype}")
        frame_h, frame_w = image.shape[:2]
        crops = None if regions is None else plan_crops(regions, frame_w, frame_h, min_size=self.imgsz,
                                                        max_crops=self.max_crops)  # fmt: skip
        if crops is None:
            results = self._predict([image])
            found = Detections.from_ultralytics(results[0], names=self.names)
        elif not crops:
            return Detections.empty()
        else:
            inputs = [np.ascontiguousarray(image[y:y + h, x:x + w]) for x, y, w, h in crops]
            results = self._predict(inputs)
            found = Detections.concat([Detections.from_ultralytics(r, offset=(x, y), names=self.names)
                                       for r, (x, y, _, _) in zip(results, crops, strict=True)])  # fmt: skip
        return found.above(self.min_scores)

    def _predict(self, inputs: list[np.ndarray]) -> list[Any]:
        # ultralytics' predictor keeps per-call state; one camera thread at a time may use it
        with self._lock:
            self._calls += 1
            self._images += len(inputs)
            return self._model.predict(inputs, imgsz=self.imgsz, conf=self._conf, classes=self._class_ids,
                                       device=self.device, verbose=False)  # fmt: skip
