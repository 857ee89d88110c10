"""MotionDetector (per-frame changed area on a downscaled grey frame) and MotionGate (start/end hysteresis)."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from config.inventory import CameraDetectionConfig
from config.settings import DetectConfig
from detect.zones import considered_area
from ingest.frames import Frame, shrink

BACKGROUND_ALPHA_STILL = 0.05  # how fast the background follows a still scene (light changes)
BACKGROUND_ALPHA_MOVING = 0.01  # slower while something moves, so a slow object is not absorbed
BLUR = (5, 5)


@dataclass(frozen=True)
class MotionResult:
    at: float
    area: float  # changed fraction of the unmasked frame, 0..1
    boxes: tuple[tuple[int, int, int, int], ...]  # x, y, w, h in the source frame's pixels
    recalibrated: bool = False  # most of the frame changed at once: the background was relearnt, no motion

    @property
    def moving(self) -> bool:
        return bool(self.boxes)


class MotionDetector:
    """Running-average background on a small blurred grey frame, gated by recent frame-to-frame change.

    Differences from the background alone leave "ghosts": an object present when learning started, or one that
    left, differs from the background until it is absorbed — at the slow rate that protects real slow movers, tens of
    seconds. Counting only pixels that also changed between frames within the last RECENT_S, and absorbing the rest
    at the still rate, ends a ghost within about a second while a moving object stays whole."""

    RECENT_S = 1.0

    def __init__(self, config: DetectConfig, camera: CameraDetectionConfig | None = None) -> None:
        self.config = config
        self.camera = camera or CameraDetectionConfig()
        self.threshold = self.camera.pixel_threshold or config.pixel_threshold
        self.min_area = self.camera.min_area or config.min_area
        self.recalibrations = 0
        self._considered: np.ndarray | None = None
        self._considered_px = 1
        self._background: np.ndarray | None = None
        self._previous: np.ndarray | None = None
        self._recent: np.ndarray | None = None
        self._last_at: float | None = None

    def _relearn(self, small: np.ndarray, at: float) -> None:
        self._background = small.astype(np.float32)
        self._previous = small
        self._recent = np.zeros_like(small)
        self._last_at = at

    def _small_grey(self, image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(shrink(image, self.config.frame_width), BLUR, 0)

    def detect_frame(self, frame: Frame) -> MotionResult:
        return self.detect(frame.small_grey(self.config.frame_width), frame.at, width=frame.width)

    def detect(self, image: np.ndarray, at: float, *, width: int | None = None) -> MotionResult:
        """Motion in `image` (grey or BGR, any size; Frame.small_grey(frame_width) saves the shrinking). Boxes come
        in the coordinates of a picture `width` pixels wide (default: the image's own)."""
        small = self._small_grey(image)
        if self._background is None or self._background.shape != small.shape or self._previous is None:
            self._relearn(small, at)
            h, w = small.shape
            self._considered = considered_area(self.camera, w, h)
            self._considered_px = int(np.count_nonzero(self._considered)) if self._considered is not None else h * w
            return MotionResult(at=at, area=0.0, boxes=())
        threshold = self.threshold
        _, changed = cv2.threshold(cv2.absdiff(small, self._previous), threshold, 255, cv2.THRESH_BINARY)
        if self._considered is not None:
            changed = cv2.bitwise_and(changed, self._considered)
        if np.count_nonzero(changed) > self.config.recalibrate_area * self._considered_px:
            # lights on/off, the day/night IR switch, a flash: the whole view changed at once, not something moving
            self.recalibrations += 1
            self._relearn(small, at)
            return MotionResult(at=at, area=0.0, boxes=(), recalibrated=True)
        # fade the memory of change in proportion to the time passed, so the window is RECENT_S at any frame rate
        fade = min(255, int(255 * (at - (self._last_at or at)) / self.RECENT_S) + 1)
        self._recent = cv2.max(cv2.subtract(self._recent, fade), cv2.dilate(changed, None, iterations=3))
        _, foreground = cv2.threshold(cv2.absdiff(small, cv2.convertScaleAbs(self._background)), threshold, 255,
                                      cv2.THRESH_BINARY)
        mask = cv2.dilate(cv2.bitwise_and(foreground, cv2.threshold(self._recent, 0, 255, cv2.THRESH_BINARY)[1]),
                          None, iterations=2)
        if self._considered is not None:
            mask = cv2.bitwise_and(mask, self._considered)
        self._previous, self._last_at = small, at
        area = float(np.count_nonzero(mask)) / self._considered_px
        boxes: tuple[tuple[int, int, int, int], ...] = ()
        if area >= self.min_area:
            scale = (width or image.shape[1]) / small.shape[1]
            min_box = self.min_area * self._considered_px / 4
            contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            boxes = tuple(
                tuple(int(v * scale) for v in cv2.boundingRect(c))  # type: ignore[misc]
                for c in contours
                if cv2.contourArea(c) >= min_box
            )
        # absorb everything but the moving pixels at the still rate; moving pixels only very slowly
        cv2.accumulateWeighted(small, self._background, BACKGROUND_ALPHA_STILL, mask=cv2.bitwise_not(mask))
        cv2.accumulateWeighted(small, self._background, BACKGROUND_ALPHA_MOVING, mask=mask)
        return MotionResult(at=at, area=area if boxes else 0.0, boxes=boxes)


@dataclass(frozen=True)
class MotionStarted:
    at: float


@dataclass(frozen=True)
class MotionEnded:
    start: float
    end: float  # time of the last frame with motion


@dataclass
class MotionGate:
    """Hysteresis: `start_frames` moving frames in a row start a period; `end_seconds` without motion end it at the
    last moving frame. Periods longer than `max_seconds` are split so no event grows without bound."""

    start_frames: int
    end_seconds: float
    max_seconds: float
    _streak: list[float] = field(default_factory=list)
    _start: float | None = None
    _last_motion: float | None = None
    _quiet_from: float = 0.0  # silence is counted from here at the earliest (a resumed period's restart)

    @classmethod
    def from_config(cls, config: DetectConfig) -> MotionGate:
        return cls(start_frames=config.start_frames, end_seconds=config.end_seconds,
                   max_seconds=config.max_event_seconds)

    @property
    def active(self) -> bool:
        return self._start is not None

    def update(self, result: MotionResult) -> list[MotionStarted | MotionEnded]:
        out: list[MotionStarted | MotionEnded] = []
        if self._start is None:
            self._streak = self._streak + [result.at] if result.moving else []
            if len(self._streak) >= self.start_frames:
                self._start = self._last_motion = self._streak[0]
                self._last_motion = result.at
                self._streak = []
                out.append(MotionStarted(self._start))
            return out
        assert self._last_motion is not None
        if result.moving:
            self._last_motion = result.at
            if result.at - self._start >= self.max_seconds:
                out.append(MotionEnded(self._start, result.at))
                self._start = result.at
                out.append(MotionStarted(result.at))
        elif result.at - max(self._last_motion, self._quiet_from) >= self.end_seconds:
            out.append(MotionEnded(self._start, self._last_motion))
            self._start = self._last_motion = None
        return out

    def resume(self, start: float, last_motion: float, now: float) -> None:
        """Continue a period a previous run of the detector had open (see EventWriter.recover). The time the
        detector was down is not silence: the end_seconds wait starts again from `now`."""
        self._start, self._last_motion, self._streak, self._quiet_from = start, last_motion, [], now

    def close(self) -> list[MotionEnded]:
        """End an open period (at shutdown or when the stream drops)."""
        if self._start is None or self._last_motion is None:
            return []
        ended = MotionEnded(self._start, self._last_motion)
        self._start = self._last_motion = None
        return [ended]
