"""Shared fixtures: settings, a real SQLite database, object stores (local directory and a real S3-protocol
server), and the RTSP camera simulator — all on 127.0.0.1, all started here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import Settings, load_settings
from storage.credentials import generate_key
from storage.db import Database
from storage.objectstore import LocalObjectStore, ObjectStore, S3ObjectStore
from tests.postgres import INSTALL_HINT, PostgresCluster, postgres_bin

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")
if "PYTEST_XDIST_WORKER" in os.environ and "YOLO_CONFIG_DIR" in os.environ:
    # ultralytics writes its settings file there at import: one directory per worker, never two writers
    _yolo_config = Path(os.environ["YOLO_CONFIG_DIR"]) / os.environ["PYTEST_XDIST_WORKER"]
    _yolo_config.mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_CONFIG_DIR"] = str(_yolo_config)
CACHE = Path(os.environ.get("MATTHAN_TEST_CACHE", Path.home() / ".cache" / "matthan-tests"))
MODEL_CACHE = CACHE / "models"


# --- the object model the tests train: trained in the background from the start, used by the tests that run last --


class _BackgroundTraining:
    """Training takes minutes of CPU while most tests wait on real-time streams, so it starts with the session at
    the lowest priority and the tests marked `trained_model` are moved to the end; `trained_model()` called by them
    waits on the factory's lock and finds the file."""

    thread: threading.Thread | None = None
    error: BaseException | None = None

    @classmethod
    def start(cls) -> None:
        from tests.detect.model_factory import DEFAULT, trained_model

        def run() -> None:
            try:
                trained_model(MODEL_CACHE, DEFAULT, niceness=19)
            except BaseException as exc:  # reported by the tests that need the model
                cls.error = exc

        cls.thread = threading.Thread(target=run, name="train-test-model", daemon=True)
        cls.thread.start()


@pytest.fixture(scope="session")
def test_model() -> Path:
    """Weights of the model the tests train (see _BackgroundTraining)."""
    from tests.detect.model_factory import trained_model

    if _BackgroundTraining.thread is not None:
        _BackgroundTraining.thread.join()
        if _BackgroundTraining.error is not None:
            raise RuntimeError("training the test model failed") from _BackgroundTraining.error
    return trained_model(MODEL_CACHE)


class _Order:
    """Registered at configure time, so that its trylast hook runs after pytest's reordering by fixture parameters."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # The fixed-length runs first, so the other worker shares out the rest meanwhile; the model's users last.
        needing = [item for item in items if item.get_closest_marker("trained_model")]
        others = [item for item in items if not item.get_closest_marker("trained_model")]
        items[:] = [item for item in others if _module(item) in ONE_AT_A_TIME] + \
            [item for item in others if _module(item) not in ONE_AT_A_TIME] + needing
        if needing:
            _BackgroundTraining.start()


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_Order(), "matthan-test-order")


# --- two xdist workers (scripts/test.sh: -n 2 --dist loadgroup) --------------------------------------------------

# These record real streams for fixed minutes under tight gap and timing bounds, or measure CPU (the live wall's
# pass-through beside a re-encode of the same stream): they run one after another on one worker, never side by side.
ONE_AT_A_TIME = ("tests/ingest/test_commune_scale.py", "tests/ingest/test_faults.py", "tests/test_failover.py",
                 "tests/review_ui/test_live.py")
_DATABASE_PARAM = re.compile(r"\[(?:.*-)?(sqlite|postgresql)(?:-.*)?\]$")


def work_unit(nodeid: str) -> str:
    """The tests a worker takes together. A module runs whole on one worker, so its module fixtures start once; the
    fixed-length runs share one unit; a module's SQLite and PostgreSQL tests are two units, all SQLite ones queued
    first, because a worker must be done with the review UI's SQLite site (session fixtures) before its PostgreSQL
    one starts."""
    module = nodeid.split("::", 1)[0]
    if module in ONE_AT_A_TIME:
        return "one-at-a-time"
    database = _DATABASE_PARAM.search(nodeid)
    return f"{module}::{database.group(1)}" if database else module


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """--dist loadgroup with our work units. Units go out in the order collected (see _Order), never by size: the
    fixed-length runs start at once, the SQLite units precede the PostgreSQL ones, the trained model's users end."""
    from xdist.scheduler import LoadGroupScheduling

    if config.getvalue("dist") != "loadgroup":
        return None

    class ByWorkUnit(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            # xdist_group marks would end in "@name" (xdist 3.8 cannot add that to pytest 9's ids, so we group here)
            return super()._split_scope(nodeid) if nodeid.rfind("@") > nodeid.rfind("]") else work_unit(nodeid)

    config.option.loadscopereorder = False
    return ByWorkUnit(config, log)


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def init_site(config: Path, values: dict[str, Any]) -> dict[str, str]:
    """Write `values` (from settings_values) as the settings file `config`, run `matthan init` on it, and return the
    environment that points a `matthan` process at it."""
    config.write_text(yaml.safe_dump(json.loads(json.dumps(values, default=str)), allow_unicode=True))
    env = dict(os.environ, MATTHAN_CONFIG=str(config))
    done = subprocess.run([sys.executable, "-m", "matthan", "init"], env=env, timeout=60, capture_output=True, text=True)
    assert done.returncode == 0, f"matthan init failed:\n{done.stdout}{done.stderr}"
    return env


def settings_values(tmp: Path, **overrides: Any) -> dict[str, Any]:
    """Test settings as plain values (for a settings YAML handed to a real `matthan` process)."""
    base: dict[str, Any] = {
        "data_dir": str(tmp),
        "database": {"url": f"sqlite:///{tmp / 'matthan.db'}"},
        "objectstore": {"backend": "local", "path": str(tmp / "objects")},
        "ingest": {"spool_dir": str(tmp / "spool"), "segment_seconds": 4, "restart_backoff_s": 1.0,
                   "restart_backoff_max_s": 4.0, "connect_timeout_s": 5.0, "upload_interval_s": 0.5},
        "detect": {"pre_roll_s": 0.0, "post_roll_s": 0.0, "clip_wait_s": 60.0},
        "web": {"secret_key": "t" * 40, "port": 0},
        "security": {"credentials_key": generate_key()},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


def make_settings(tmp: Path, **overrides: Any) -> Settings:
    return load_settings(None, **settings_values(tmp, **overrides))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database.url)
    database.prepare()
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One real PostgreSQL server for the session (started only if a test asks); each user makes its own database."""
    if postgres_bin() is None:
        pytest.fail(INSTALL_HINT)
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real S3-protocol server (moto) on 127.0.0.1; yields host:port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


def s3_store(endpoint: str) -> S3ObjectStore:
    return S3ObjectStore(endpoint=endpoint, bucket=f"t-{uuid.uuid4().hex[:12]}", access_key="test",
                         secret_key="test-secret", secure=False, region="us-east-1")


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """Every test using this runs once per backend: the same suite proves both."""
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    return s3_store(request.getfixturevalue("s3_server"))


@pytest.fixture(scope="session")
def simulator() -> Iterator[Any]:
    """Three simulated cameras (main 640x360, sub 320x180) on a real RTSP server, shared by the session."""
    from matthan.simulator.runner import SimulatedCameras

    with SimulatedCameras(cache_dir=CACHE / "footage", count=3, main_size=(640, 360), sub_size=(320, 180)) as sim:
        yield sim


def decoded_frames(path: Path) -> int:
    """Frames ffmpeg decodes from a file with no decoding error (muxer timestamp notices do not count)."""
    import json
    import subprocess

    result = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                             "stream=nb_read_frames", "-of", "json", str(path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "error" not in result.stderr.lower(), result.stderr
    return int(json.loads(result.stdout)["streams"][0]["nb_read_frames"])
