"""Fixtures for the simulator's own tests: cached footage and real RTSP servers on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from matthan.simulator.runner import SimulatedCameras

# Same cache as the rest of the suite, so footage rendered once serves every run (override with MATTHAN_TEST_CACHE).
CACHE = Path(os.environ.get("MATTHAN_TEST_CACHE", Path.home() / ".cache" / "matthan-tests"))
MAIN_SIZE = (640, 360)
SUB_SIZE = (320, 180)
SIM_USER = "admin"
SIM_PASSWORD = "Sim-Pass:123"  # a ':' on purpose: URLs must percent-encode it


@pytest.fixture(scope="session")
def footage_cache() -> Path:
    return CACHE / "footage"


@pytest.fixture(scope="session")
def sim_cameras(footage_cache: Path) -> Iterator[SimulatedCameras]:
    """Two open cameras, small sizes to keep rendering and decoding cheap."""
    with SimulatedCameras(footage_cache, count=2, main_size=MAIN_SIZE, sub_size=SUB_SIZE) as cameras:
        yield cameras


@pytest.fixture(scope="module")
def sim_cameras_auth(footage_cache: Path) -> Iterator[SimulatedCameras]:
    """One camera behind a user and password (Digest challenge), like a real IP camera."""
    with SimulatedCameras(footage_cache, count=1, main_size=MAIN_SIZE, sub_size=SUB_SIZE, user=SIM_USER,
                          password=SIM_PASSWORD) as cameras:  # fmt: skip
        yield cameras
