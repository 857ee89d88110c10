"""The connection test against the real RTSP simulator (with a login): figures and a picture when it works, and
which problem it is when not — unreachable (refused, no answer), wrong password, wrong path, no video."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from config.inventory import with_credentials
from ingest.errors import SourceAuthFailed, SourceError, SourceNotFound, SourceUnreachable, SourceUnsupported
from ingest.probe import probe_stream, problem_code
from matthan.simulator.runner import SimulatedCameras
from tests.conftest import CACHE

USER, PASSWORD = "admin", "Mat-khau-camera-9"


@pytest.fixture(scope="module")
def locked() -> Iterator[SimulatedCameras]:
    """One simulated camera that asks for a user name and password (digest)."""
    with SimulatedCameras(cache_dir=CACHE / "footage", count=1, main_size=(640, 360), sub_size=(320, 180),
                          user=USER, password=PASSWORD) as sim:
        yield sim


def plain(sim: SimulatedCameras, path: str) -> str:
    return sim.url(path, credentials=False)


def failure(url: str, timeout_s: float = 5.0) -> SourceError:
    with pytest.raises(SourceError) as caught:
        probe_stream(url, timeout_s=timeout_s)
    return caught.value


def test_a_working_camera_gives_its_figures_and_a_picture(locked: SimulatedCameras) -> None:
    result = probe_stream(with_credentials(plain(locked, "/cam1/main"), USER, PASSWORD), timeout_s=5)
    assert (result.codec, result.width, result.height) == ("h264", 640, 360)
    assert result.fps == pytest.approx(15, abs=0.5)
    picture = cv2.imdecode(np.frombuffer(result.snapshot_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape == (360, 640, 3) and picture.std() > 5  # a real street, not flat
    assert result.seconds < 5
    sub = probe_stream(with_credentials(plain(locked, "/cam1/sub"), USER, PASSWORD), timeout_s=5, snapshot=False)
    assert (sub.width, sub.height, sub.snapshot_jpeg) == (320, 180, b"")


def test_wrong_password_and_no_password_are_unauthorized(locked: SimulatedCameras,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = failure(with_credentials(plain(locked, "/cam1/main"), USER, "sai-mat-khau-77"))
    assert isinstance(wrong, SourceAuthFailed) and problem_code(wrong) == "unauthorized"
    assert "401" in str(wrong) and "user name or password" in str(wrong)
    assert "sai-mat-khau-77" not in str(wrong) and "sai-mat-khau-77" not in caplog.text
    assert problem_code(failure(plain(locked, "/cam1/main"))) == "unauthorized"


def test_wrong_path_is_not_found(locked: SimulatedCameras) -> None:
    error = failure(with_credentials(plain(locked, "/cam7/main"), USER, PASSWORD))
    assert isinstance(error, SourceNotFound) and problem_code(error) == "not_found"
    assert "404" in str(error) and "RTSP path" in str(error) and PASSWORD not in str(error)


def test_a_stream_without_video_is_refused(locked: SimulatedCameras) -> None:
    error = failure(with_credentials(plain(locked, "/audio-only"), USER, PASSWORD))
    assert isinstance(error, SourceUnsupported) and problem_code(error) == "no_video"
    assert "no video track" in str(error) and "audio" in str(error)


def test_a_closed_port_is_unreachable_at_once() -> None:
    started = time.monotonic()
    error = failure("rtsp://admin:Bi-mat-1@127.0.0.1:9/live")
    assert isinstance(error, SourceUnreachable) and problem_code(error) == "unreachable"
    assert "refused" in str(error) and "powered" in str(error)  # which problem, and what to do
    assert "Bi-mat-1" not in str(error) and "admin:***@" in str(error)
    assert time.monotonic() - started < 2


def test_a_silent_port_is_unreachable_after_the_timeout() -> None:
    """Something accepts the connection but never answers RTSP (a wrong port on the camera, a web server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        error = failure(f"rtsp://127.0.0.1:{server.getsockname()[1]}/live", timeout_s=2)
        took = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()
    assert problem_code(error) == "unreachable", error
    assert 1.5 < took < 8, took
