"""Render one cycle of a simulated camera's street scene and encode it to a cached Annex-B H.264 file."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import shutil
import subprocess
import tempfile
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from matthan.simulator import scene

logger = logging.getLogger(__name__)

# Bump whenever the drawing or the encoder settings change, so stale cached files are not reused.
FOOTAGE_VERSION = 1
# Temporal sensor noise: small enough that a motion detector on a downscaled grey frame stays quiet.
NOISE_SIGMA = 1.2
# A handful of noise fields cycled frame by frame: cheap, and the eye (and x264) cannot tell them from fresh noise.
NOISE_FIELDS = 8


class FootageError(RuntimeError):
    """ffmpeg is missing or failed to encode the footage."""


def generate_footage(
    cache_dir: Path,
    *,
    camera_index: int,
    width: int,
    height: int,
    fps: int = scene.FPS,
    gop_frames: int | None = None,
) -> Path:
    """Return the path of one cycle of footage (frame i = cycle time i/fps), rendering it unless already cached."""
    if width % 2 or height % 2:
        raise ValueError(f"yuv420p needs even dimensions, got {width}x{height}")
    gop = gop_frames if gop_frames is not None else max(1, fps // 2)
    params = {
        "version": FOOTAGE_VERSION,
        "camera_index": camera_index,
        "width": width,
        "height": height,
        "fps": fps,
        "gop": gop,
        "cycle": scene.CYCLE_SECONDS,
        "crossings": [asdict(c) for c in scene.CROSSINGS],
    }
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    cache_dir = Path(cache_dir)
    target = cache_dir / f"cam{camera_index}_{width}x{height}_{fps}fps_g{gop}_{digest}.h264"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise FootageError("ffmpeg not found on PATH")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp", dir=cache_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _encode(ffmpeg, tmp, camera_index=camera_index, width=width, height=height, fps=fps, gop=gop)
        tmp.chmod(0o644)  # mkstemp makes it private; the cache is shared with the server and other users
        os.replace(tmp, target)  # atomic: readers see either no file or the whole file
    finally:
        tmp.unlink(missing_ok=True)
    logger.info("generated footage %s", target)
    return target


def _encode(ffmpeg: str, out: Path, *, camera_index: int, width: int, height: int, fps: int, gop: int) -> None:
    cmd = [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-",
        "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-profile:v", "baseline", "-bf", "0",
        "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", "-pix_fmt", "yuv420p",
        # SPS/PPS before every IDR so a client joining at any keyframe can decode at once
        "-x264-params", "repeat-headers=1",
        "-f", "h264", str(out),
    ]  # fmt: skip
    renderer = StreetRenderer(camera_index=camera_index, width=width, height=height)
    # stderr goes to a file, not a pipe: nobody reads a pipe while we write frames, so it could fill and deadlock
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=err)
        assert proc.stdin is not None
        try:
            for i in range(scene.CYCLE_SECONDS * fps):
                proc.stdin.write(memoryview(renderer.frame(i / fps, i)))
        except BrokenPipeError:
            pass  # ffmpeg died; its stderr below says why
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
            returncode = proc.wait()
        if returncode != 0:
            err.seek(0)
            message = err.read().decode(errors="replace").strip()[-800:]
            raise FootageError(f"ffmpeg failed ({returncode}): {message}")


class StreetRenderer:
    """Draws a fixed-camera street: a still background plus the object crossing at a given cycle time."""

    def __init__(self, *, camera_index: int, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self._rng = random.Random(1000 + camera_index)
        self.background = self._draw_background(camera_index)
        noise_rng = np.random.default_rng(camera_index)
        noise = noise_rng.normal(0.0, NOISE_SIGMA, size=(NOISE_FIELDS, height, width, 1))
        noise = np.repeat(np.rint(noise), 3, axis=3)  # luma-like noise, identical in all three channels
        self._noise_up = np.clip(noise, 0, 255).astype(np.uint8)
        self._noise_down = np.clip(-noise, 0, 255).astype(np.uint8)

    def frame(self, cycle_time: float, index: int = 0) -> np.ndarray:
        img = self.background.copy()
        current = scene.crossing_at(cycle_time)
        if current is not None:
            crossing, progress = current
            if crossing.kind == "motorbike":
                self._draw_motorbike(img, crossing, progress)
            else:
                self._draw_person(img, crossing, progress, cycle_time)
        k = index % NOISE_FIELDS
        cv2.add(img, self._noise_up[k], dst=img)
        cv2.subtract(img, self._noise_down[k], dst=img)
        return img

    def object_box(self, cycle_time: float) -> tuple[str, tuple[int, int, int, int]] | None:
        """The kind and visible box (x, y, w, h, clipped to the frame) of the object crossing at `cycle_time`.

        None when nothing crosses or nothing of it is in the frame. The object is drawn alone on a black canvas by
        the same code as `frame`, so the box is exact to the pixel and cannot drift from the drawing."""
        current = scene.crossing_at(cycle_time)
        if current is None:
            return None
        crossing, progress = current
        canvas = np.zeros((self.height, self.width, 3), np.uint8)
        if crossing.kind == "motorbike":
            self._draw_motorbike(canvas, crossing, progress)
        else:
            self._draw_person(canvas, crossing, progress, cycle_time)
        mask = np.any(canvas != 0, axis=2).astype(np.uint8)  # every drawing colour has a non-zero channel
        x, y, w, h = cv2.boundingRect(mask)
        if w == 0 or h == 0:
            return None
        return crossing.kind, (int(x), int(y), int(w), int(h))

    # --- background -------------------------------------------------------------------------------------------

    def _draw_background(self, camera_index: int) -> np.ndarray:
        w, h, rng = self.width, self.height, self._rng
        img = np.zeros((h, w, 3), np.uint8)
        horizon = int(h * rng.uniform(0.38, 0.46))
        road_top = int(h * 0.62)
        road_bottom = int(h * 0.86)
        # sky: vertical gradient, hue varied per camera (morning haze vs clear)
        top = np.array([rng.randint(170, 220), rng.randint(140, 180), rng.randint(90, 130)], np.float32)
        low = np.array([235, 225, 215], np.float32)
        t = np.linspace(0.0, 1.0, horizon, dtype=np.float32)[:, None]
        img[:horizon] = (top * (1 - t) + low * t).astype(np.uint8)[:, None, :]
        # buildings: a row of shophouses of varied width, height and paint
        x = -rng.randint(0, w // 20)
        while x < w:
            bw = int(w * rng.uniform(0.08, 0.16))
            top_y = int(horizon - h * rng.uniform(0.05, 0.30))
            paint = (rng.randint(60, 200), rng.randint(90, 210), rng.randint(110, 230))
            cv2.rectangle(img, (x, top_y), (x + bw, road_top), paint, -1)
            cv2.rectangle(img, (x, top_y), (x + bw, road_top), tuple(c * 0.6 for c in paint), max(1, w // 640))
            self._draw_windows(img, x, top_y, bw, road_top - top_y)
            x += bw
        # sidewalk far side, road, sidewalk near side
        cv2.rectangle(img, (0, int(road_top - h * 0.03)), (w, road_top), (150, 155, 160), -1)
        asphalt = rng.randint(70, 95)
        cv2.rectangle(img, (0, road_top), (w, road_bottom), (asphalt, asphalt, asphalt + 5), -1)
        cv2.rectangle(img, (0, road_bottom), (w, h), (160, 170, 178), -1)
        cv2.line(img, (0, road_bottom), (w, road_bottom), (110, 110, 115), max(2, h // 120))
        for y in range(road_bottom + h // 25, h, h // 25):  # paving joints
            cv2.line(img, (0, y), (w, y), (140, 148, 155), 1)
        # dashed lane mark in the middle of the road
        lane_y = (road_top + road_bottom) // 2
        dash = w // 16
        offset = rng.randint(0, dash)
        for x0 in range(-offset, w, 2 * dash):
            cv2.rectangle(img, (x0, lane_y - h // 200 - 1), (x0 + dash, lane_y + h // 200 + 1), (225, 225, 225), -1)
        # trees on the far sidewalk
        for _ in range(1 + camera_index % 2 + rng.randint(0, 1)):
            self._draw_tree(img, int(w * rng.uniform(0.05, 0.95)), road_top)
        # camera name in the corner, as a real OSD would show (static, so no motion)
        scale = h / 720
        cv2.putText(img, f"CAM {camera_index:02d}", (int(20 * scale), int(40 * scale)), cv2.FONT_HERSHEY_SIMPLEX,
                    1.0 * scale, (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA)  # fmt: skip
        # fixed-pattern noise and a slight blur: real sensors are neither flat nor razor sharp
        pattern = np.random.default_rng(camera_index + 77).normal(0.0, 1.5, size=(h, w, 1))
        img = np.clip(img.astype(np.float32) + pattern, 0, 255).astype(np.uint8)
        return cv2.GaussianBlur(img, (3, 3), 0)

    def _draw_windows(self, img: np.ndarray, x: int, y: int, bw: int, bh: int) -> None:
        rng = self._rng
        ww, wh = max(3, bw // 6), max(3, bh // 8)
        glass = (rng.randint(90, 140), rng.randint(70, 110), rng.randint(40, 80))
        for wy in range(y + wh // 2, y + bh - 2 * wh, int(wh * 1.8)):
            for wx in range(x + ww // 2, x + bw - ww, int(ww * 1.7)):
                cv2.rectangle(img, (wx, wy), (wx + ww, wy + wh), glass, -1)
        # a roller shutter at street level, typical of Vietnamese shophouses
        shutter_h = max(4, bh // 5)
        cv2.rectangle(img, (x + bw // 8, y + bh - shutter_h), (x + bw - bw // 8, y + bh), (170, 175, 180), -1)

    def _draw_tree(self, img: np.ndarray, cx: int, ground: int) -> None:
        h = self.height
        trunk_h, trunk_w = int(h * 0.16), max(3, h // 70)
        cv2.rectangle(img, (cx - trunk_w, ground - trunk_h), (cx + trunk_w, ground), (40, 60, 85), -1)
        rng = self._rng
        for _ in range(5):
            r = int(h * rng.uniform(0.05, 0.08))
            ox, oy = int(r * rng.uniform(-0.9, 0.9)), int(r * rng.uniform(-0.5, 0.3))
            green = (rng.randint(30, 60), rng.randint(100, 150), rng.randint(40, 70))
            cv2.circle(img, (cx + ox, ground - trunk_h + oy), r, green, -1, cv2.LINE_AA)

    # --- moving objects ---------------------------------------------------------------------------------------

    def _span_x(self, crossing: scene.Crossing, progress: float, obj_w: int) -> tuple[int, bool]:
        """Left edge of an object `obj_w` wide: its leading edge enters at progress 0, its trailing edge leaves at 1."""
        travelled = progress * (self.width + obj_w)
        if crossing.left_to_right:
            return int(round(travelled - obj_w)), False
        return int(round(self.width - travelled)), True

    def _draw_motorbike(self, img: np.ndarray, crossing: scene.Crossing, progress: float) -> None:
        h = self.height
        size = h * 0.16  # wheelbase-ish unit
        obj_w = int(size * 1.6)
        left, flip = self._span_x(crossing, progress, obj_w)
        ground = int(h * crossing.ground)

        def p(fx: float, fy: float) -> tuple[int, int]:
            # (fx, fy) in object units: x from 0 (rear) to 1.6 (front), y up from the ground
            x = obj_w - fx * size if flip else fx * size
            return int(left + x), int(ground - fy * size)

        r = int(size * 0.28)
        lw = max(2, int(size * 0.05))
        for wx in (0.3, 1.3):  # wheels: tyre and rim
            cv2.circle(img, p(wx, 0.28), r, (25, 25, 25), -1, cv2.LINE_AA)
            cv2.circle(img, p(wx, 0.28), int(r * 0.55), (170, 170, 175), lw, cv2.LINE_AA)
        body = np.array([p(0.15, 0.45), p(0.55, 0.75), p(1.05, 0.72), p(1.3, 0.95), p(1.4, 0.55),
                         p(1.0, 0.35), p(0.45, 0.35)], np.int32)  # fmt: skip
        cv2.fillPoly(img, [body], (30, 30, 190), cv2.LINE_AA)  # red scooter body
        cv2.line(img, p(1.3, 0.28), p(1.25, 1.05), (60, 60, 60), lw, cv2.LINE_AA)  # fork
        cv2.line(img, p(1.15, 1.05), p(1.35, 1.08), (20, 20, 20), lw, cv2.LINE_AA)  # handlebar
        cv2.ellipse(img, p(1.42, 0.9), (max(2, int(size * 0.06)), max(2, int(size * 0.08))), 0, 0, 360,
                    (180, 240, 255), -1, cv2.LINE_AA)  # fmt: skip  # headlight
        cv2.line(img, p(0.45, 0.78), p(0.95, 0.78), (20, 20, 20), max(3, int(size * 0.09)), cv2.LINE_AA)  # seat
        # rider: leg, torso, arm, helmeted head
        cv2.line(img, p(0.7, 0.8), p(1.0, 0.45), (90, 60, 40), max(3, int(size * 0.12)), cv2.LINE_AA)
        cv2.line(img, p(0.68, 0.82), p(0.82, 1.55), (40, 120, 200), max(4, int(size * 0.2)), cv2.LINE_AA)
        cv2.line(img, p(0.85, 1.45), p(1.2, 1.08), (40, 120, 200), max(2, int(size * 0.08)), cv2.LINE_AA)
        cv2.circle(img, p(0.86, 1.78), max(3, int(size * 0.15)), (200, 200, 30), -1, cv2.LINE_AA)

    def _draw_person(self, img: np.ndarray, crossing: scene.Crossing, progress: float, cycle_time: float) -> None:
        h = self.height
        tall = h * 0.30
        obj_w = int(tall * 0.45)
        left, _ = self._span_x(crossing, progress, obj_w)  # a symmetric figure: direction only moves it
        ground = int(h * crossing.ground)
        cx = left + obj_w // 2
        hip = (cx, int(ground - tall * 0.48))
        neck = (cx, int(ground - tall * 0.82))
        swing = math.sin(cycle_time * 2 * math.pi * 1.8)  # about two strides a second
        stride = tall * 0.18
        lw = max(2, int(tall * 0.07))
        trousers, shirt, skin = (60, 45, 35), (60, 160, 230), (130, 170, 210)
        for s in (swing, -swing):
            foot = (int(cx + s * stride), ground)
            cv2.line(img, hip, foot, trousers, lw, cv2.LINE_AA)
        cv2.line(img, hip, neck, shirt, max(3, int(tall * 0.14)), cv2.LINE_AA)
        for s in (-swing, swing):
            hand = (int(cx + s * stride * 0.7), int(ground - tall * 0.50))
            cv2.line(img, (cx, int(ground - tall * 0.78)), hand, skin, max(2, lw - 1), cv2.LINE_AA)
        head_r = max(3, int(tall * 0.07))
        cv2.circle(img, (cx, int(ground - tall * 0.82 - head_r)), head_r, skin, -1, cv2.LINE_AA)
        # conical hat (nón lá) so the walker reads as a person even at 360p
        hat_y = int(ground - tall * 0.82 - head_r * 1.5)
        hat = np.array([(cx - head_r * 2, hat_y + head_r // 2), (cx + head_r * 2, hat_y + head_r // 2),
                        (cx, hat_y - head_r)], np.int32)  # fmt: skip
        cv2.fillPoly(img, [hat], (150, 210, 230), cv2.LINE_AA)
