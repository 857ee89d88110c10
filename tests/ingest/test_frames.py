"""Frame: kept as decoded (I420) with the grey picture from its Y plane, BGR on demand — the same pixels PyAV gives."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from ingest.frames import Frame, shrink


def picture(width: int, height: int) -> np.ndarray:
    """Smooth gradients and a hard-edged block: what chroma subsampling handles the way real footage does."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([(x * 255 // max(width - 1, 1)), (y * 255 // max(height - 1, 1)), ((x + y) % 256)], axis=-1)
    image[height // 4: height // 2, width // 4: width // 2] = (30, 200, 90)
    return image.astype(np.uint8)


def close(ours: np.ndarray, reference: np.ndarray) -> None:
    assert ours.shape == reference.shape and ours.dtype == np.uint8 and ours.flags.c_contiguous
    difference = np.abs(ours.astype(np.int16) - reference.astype(np.int16))
    assert difference.mean() < 1.5 and np.percentile(difference, 99) <= 6, (difference.mean(), difference.max())


# yuv420p takes the I420 path; the others (full-range, odd sizes, other layouts) PyAV's converter
@pytest.mark.parametrize("fmt, width, height", [("yuv420p", 640, 360), ("yuv420p", 200, 100), ("yuvj420p", 320, 180),
                                                ("yuv420p", 321, 181), ("nv12", 320, 180)])  # fmt: skip
def test_frame_pixels_match_pyav(fmt: str, width: int, height: int) -> None:
    decoded = av.VideoFrame.from_ndarray(picture(width, height), format="bgr24").reformat(format=fmt)
    reference = decoded.to_ndarray(format="bgr24")
    frame = Frame.from_av(decoded, camera_id=1, at=0.0)
    assert (frame.width, frame.height) == (width, height)
    close(frame.image, np.ascontiguousarray(reference))
    close(frame.grey, cv2.cvtColor(reference, cv2.COLOR_BGR2GRAY))  # same 0..255 scale motion thresholds assume
    assert frame.image is frame.image and frame.grey is frame.grey  # converted once
    for width in (160, 100):  # by halves, and not
        small = frame.small_grey(width)
        assert small.shape[1] == min(width, frame.width) and small is frame.small_grey(width)
        close(small, shrink(cv2.cvtColor(reference, cv2.COLOR_BGR2GRAY), width))


def test_frame_grey_is_the_y_plane_without_bgr() -> None:
    decoded = av.VideoFrame.from_ndarray(picture(200, 100), format="bgr24").reformat(format="yuv420p")
    assert decoded.planes[0].line_size > 200  # the decoder's rows are padded; the frame must not carry the padding
    frame = Frame.from_av(decoded, camera_id=1, at=0.0)
    assert frame.small_grey(50).shape == (25, 50)
    assert frame._bgr is None and frame._grey is None  # a small grey never pays for BGR or a full-size grey


def test_frame_refuses_wrong_pixels() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Frame(1, 0.0)
    with pytest.raises(ValueError, match="BGR"):
        Frame(1, 0.0, np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="yuv420p"):
        Frame(1, 0.0, decoded=av.VideoFrame(200, 100, "nv12"))
