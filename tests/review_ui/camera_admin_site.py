"""A site of its own for the camera administration tests: a database, the review UI under uvicorn, a real `matthan
worker` process and a simulated camera that asks for a password. Each test module starts one."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from config import Settings, load_settings
from matthan.simulator.runner import SimulatedCameras
from storage.db import Database
from storage.repo.users import create_user
from tests.conftest import CACHE, init_site, settings_values
from tests.review_ui_server import serve
from tests.waiting import stop_process

CAMERA_USER, CAMERA_PASSWORD = "admin", "Mk-camera-moi-2026"
PASSWORDS = {"quantri": "quan-tri-pass-1", "trucban": "truc-ban-pass-1", "dieutra": "dieu-tra-pass-1"}
ROLES = {"quantri": "admin", "trucban": "duty", "dieutra": "investigator"}


@dataclass(frozen=True)
class CameraSite:
    settings: Settings
    db: Database
    url: str  # the review UI
    sim: SimulatedCameras
    worker_log: Path

    def stream(self, path: str) -> str:
        """A simulator URL without credentials, as an administrator types it."""
        return self.sim.url(path, credentials=False)


@contextmanager
def camera_site(tmp: Path) -> Iterator[CameraSite]:
    """The site in `tmp`; when it stops, the worker's log must not hold the camera password."""
    inventory = {"site": {"code": "thuan-quy", "name": "Xã Thuận Quý"},
                 "recorders": [{"code": "nvr-1", "name": "Đầu thu UBND", "vendor": "hikvision", "host": "127.0.0.1",
                                "port": 9, "channels": 4, "funding": {"source": "state_budget",
                                                                      "amount_vnd": 6_500_000}}]}
    (tmp / "inventory.yaml").write_text(yaml.safe_dump(inventory, allow_unicode=True))
    values = settings_values(tmp, inventory=str(tmp / "inventory.yaml"))
    env = init_site(tmp / "settings.yaml", values)
    settings = load_settings(tmp / "settings.yaml")
    db = Database(settings.database.url)
    with db.session() as s:
        for username, password in PASSWORDS.items():
            create_user(session=s, username=username, password=password, role=ROLES[username])
    log_path = tmp / "worker.log"
    with SimulatedCameras(cache_dir=CACHE / "footage", count=1, main_size=(640, 360), sub_size=(320, 180),
                          user=CAMERA_USER, password=CAMERA_PASSWORD) as sim, serve(settings) as url:
        with open(log_path, "wb") as log:
            # the worker starts with no camera at all: whatever is registered must reach it without a restart
            worker = subprocess.Popen([sys.executable, "-m", "matthan", "worker"], env=env, stdout=log, stderr=log)
        try:
            yield CameraSite(settings=settings, db=db, url=url, sim=sim, worker_log=log_path)
        finally:
            stop_process(worker, timeout=60)
            db.dispose()
    assert CAMERA_PASSWORD not in log_path.read_text(), "a camera password reached the worker's log"
