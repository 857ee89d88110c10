"""TamperDetector: a covered, blurred or turned camera, told apart from a passing truck or a light switch by
how long the view stays wrong."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from config.settings import DetectConfig
from ingest.frames import shrink

LEARN_CHECKS = 4  # checks (the first 2 s) that set the first normal before anything can be judged
NORMAL_ALPHA = 0.02  # how fast the normal view follows slow change (dusk, weather)
TURNED_CORRELATION = 0.4  # below this likeness to the normal view, the camera looks somewhere else
CHECK_EVERY_S = 0.5  # tamper must last seconds (tamper_seconds); judging every frame would only cost CPU


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two same-size pictures (OpenCV's matchTemplate gives the same, at 6 times the cost).
    A featureless picture is like anything (1.0): a flat normal view (the camera started covered) says nothing about
    where the camera looks, and a flat current view is judged by its sharpness instead."""
    x = (a - a.mean()).ravel()
    y = (b - b.mean()).ravel()
    norm = float(np.sqrt(np.dot(x, x) * np.dot(y, y)))
    return float(np.dot(x, y)) / norm if norm > 1e-6 else 1.0


@dataclass(frozen=True)
class TamperStarted:
    at: float
    reason: str  # "covered" | "turned"


@dataclass(frozen=True)
class TamperEnded:
    start: float
    end: float


class TamperDetector:
    """Learns the view's normal edge strength and look. Edges gone (a hand, tape, a blur, a dark cover) means
    covered; a sharp view unlike the normal one means turned. Either must last `tamper_seconds`."""

    def __init__(self, config: DetectConfig, width: int = 160) -> None:
        self.hold_s = config.tamper_seconds
        self.sharpness_ratio = config.tamper_sharpness
        self.width = width
        self._normal_sharpness: float | None = None
        self._normal_view: np.ndarray | None = None
        self._seen = 0
        self._suspect_since: float | None = None
        self._suspect_reason = ""
        self._clear_since: float | None = None
        self._started: float | None = None
        self._checked_at: float | None = None

    @property
    def active(self) -> bool:
        return self._started is not None

    def _judge(self, small: np.ndarray) -> str:
        sharpness = float(cv2.Laplacian(small, cv2.CV_32F).var())
        view = small.astype(np.float32)
        if self._normal_sharpness is None or self._normal_view is None or self._normal_view.shape != view.shape:
            self._normal_sharpness, self._normal_view, self._seen = sharpness, view, 1
            return ""
        if self._seen < LEARN_CHECKS:
            self._seen += 1
            self._normal_sharpness += (sharpness - self._normal_sharpness) / self._seen
            cv2.accumulateWeighted(view, self._normal_view, 1.0 / self._seen)
            return ""
        if sharpness < self.sharpness_ratio * self._normal_sharpness:
            return "covered"
        likeness = correlation(view, self._normal_view)
        if likeness < TURNED_CORRELATION:
            return "turned"
        # only a normal-looking view teaches the normal, so a long tamper is not learnt as the new normal
        self._normal_sharpness += NORMAL_ALPHA * (sharpness - self._normal_sharpness)
        cv2.accumulateWeighted(view, self._normal_view, NORMAL_ALPHA)
        return ""

    def update(self, image: np.ndarray, at: float) -> list[TamperStarted | TamperEnded]:
        if self._checked_at is not None and 0 <= at - self._checked_at < CHECK_EVERY_S:
            return []
        self._checked_at = at
        reason = self._judge(shrink(image, self.width))
        out: list[TamperStarted | TamperEnded] = []
        if reason:
            self._clear_since = None
            if self._suspect_since is None:
                self._suspect_since, self._suspect_reason = at, reason
            if self._started is None and at - self._suspect_since >= self.hold_s:
                self._started = self._suspect_since
                out.append(TamperStarted(self._started, self._suspect_reason))
        else:
            self._suspect_since = None
            if self._started is not None:
                if self._clear_since is None:
                    self._clear_since = at
                if at - self._clear_since >= self.hold_s:
                    out.append(TamperEnded(self._started, self._clear_since))
                    self._started = self._clear_since = None
        return out
