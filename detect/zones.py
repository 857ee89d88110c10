"""Masks and named zones: polygons in fractions of the frame, rasterised once per frame size."""

from __future__ import annotations

import cv2
import numpy as np

from config.inventory import CameraDetectionConfig, Polygon


def polygon_mask(polygons: list[Polygon], width: int, height: int) -> np.ndarray:
    """uint8 image, 255 inside any polygon."""
    mask = np.zeros((height, width), np.uint8)
    for polygon in polygons:
        points = np.array([[round(x * (width - 1)), round(y * (height - 1))] for x, y in polygon], np.int32)
        cv2.fillPoly(mask, [points], 255)
    return mask


class ZoneMap:
    """Which named zones a box is in, judged by its ground point (bottom centre): where a vehicle or a person is."""

    def __init__(self, zones: dict[str, Polygon]) -> None:
        self._zones = zones
        self._contours: dict[str, np.ndarray] = {}
        self._size: tuple[int, int] | None = None

    def _prepare(self, width: int, height: int) -> None:
        if self._size != (width, height):
            self._contours = {
                name: np.array([[x * width, y * height] for x, y in polygon], np.float32).reshape(-1, 1, 2)
                for name, polygon in self._zones.items()
            }
            self._size = (width, height)

    def zones_of(self, box: tuple[int, int, int, int], width: int, height: int) -> list[str]:
        if not self._zones:
            return []
        self._prepare(width, height)
        x, y, w, h = box
        ground = (float(x + w / 2), float(y + h))
        return [name for name, contour in self._contours.items() if cv2.pointPolygonTest(contour, ground, False) >= 0]


def considered_area(camera: CameraDetectionConfig, width: int, height: int) -> np.ndarray | None:
    """255 where motion counts, 0 under masks; None when the camera has no masks (everything counts)."""
    if not camera.masks:
        return None
    return cv2.bitwise_not(polygon_mask(camera.masks, width, height))
