"""TamperDetector: a covered, blurred or turned camera, told apart from a passing truck or a light switch by
how long the view stays wrong."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from config.settings import DetectConfig

LEARN_FRAMES = 10  # frames that set the first normal before anything can be judged
NORMAL_ALPHA = 0.02  # how fast the normal view follows slow change (dusk, weather)
TURNED_CORRELATION = 0.4  # below this likeness to the normal view, the camera looks somewhere else


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

    @property
    def active(self) -> bool:
        return self._started is not None

    def _small(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        return cv2.resize(grey, (self.width, max(1, round(h * self.width / w))), interpolation=cv2.INTER_AREA)

    def _judge(self, small: np.ndarray) -> str:
        sharpness = float(cv2.Laplacian(small, cv2.CV_32F).var())
        view = small.astype(np.float32)
        if self._normal_sharpness is None or self._normal_view is None or self._normal_view.shape != view.shape:
            self._normal_sharpness, self._normal_view, self._seen = sharpness, view, 1
            return ""
        if self._seen < LEARN_FRAMES:
            self._seen += 1
            self._normal_sharpness += (sharpness - self._normal_sharpness) / self._seen
            cv2.accumulateWeighted(view, self._normal_view, 1.0 / self._seen)
            return ""
        if sharpness < self.sharpness_ratio * self._normal_sharpness:
            return "covered"
        likeness = float(cv2.matchTemplate(view, self._normal_view, cv2.TM_CCOEFF_NORMED)[0, 0])
        if likeness < TURNED_CORRELATION:
            return "turned"
        # only a normal-looking view teaches the normal, so a long tamper is not learnt as the new normal
        self._normal_sharpness += NORMAL_ALPHA * (sharpness - self._normal_sharpness)
        cv2.accumulateWeighted(view, self._normal_view, NORMAL_ALPHA)
        return ""

    def update(self, image: np.ndarray, at: float) -> list[TamperStarted | TamperEnded]:
        reason = self._judge(self._small(image))
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
