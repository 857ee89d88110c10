"""The real review UI in its own process (`python -m matthan web`, uvicorn with its lifespan) over cameras of the RTSP
simulator, for the live-view tests and benchmark: its CPU is then its own to measure."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

from storage.db import Database
from storage.repo.cameras import get_camera, set_camera_status
from storage.repo.users import create_user
from tests.conftest import init_site, settings_values
from tests.review_ui.ui_server import free_port
from tests.waiting import stop_process

PASSWORD = "mat-khau-truc-ban-1"


@dataclass
class WebProcess:
    url: str
    proc: subprocess.Popen[bytes]
    db: Database
    log: Path

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.proc.pid).cpu_times()
        return times.user + times.system

    def client(self, username: str = "truc-ban") -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30)
        answer = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        answer.raise_for_status()
        return client


@contextmanager
def live_web(tmp: Path, cameras: list[dict[str, Any]], *, statuses: dict[str, tuple[str, str]] | None = None,
             log_level: str = "INFO", cpus: set[int] | None = None) -> Iterator[WebProcess]:  # fmt: skip
    """Init a database with `cameras` (inventory entries), a duty officer "truc-ban" and the given camera statuses
    (code → (status, detail)), then serve the app from `python -m matthan web` on a free port of 127.0.0.1 (on the
    CPUs `cpus` only, when given: a benchmark keeps its load generators off them)."""
    port = free_port()
    values = settings_values(tmp, web={"secret_key": "t" * 40, "host": "127.0.0.1", "port": port})
    inventory = {"site": {"code": "thuan-quy", "name": "Xã Thuận Quý"}, "cameras": cameras}
    (tmp / "inventory.yaml").write_text(yaml.safe_dump(inventory, allow_unicode=True))
    values["inventory"] = str(tmp / "inventory.yaml")
    env = init_site(tmp / "settings.yaml", values)
    db = Database(values["database"]["url"])
    with db.session() as session:
        create_user(session=session, username="truc-ban", password=PASSWORD, role="duty", full_name="Lê Văn Trực")
        for code, (status, detail) in (statuses or {}).items():
            set_camera_status(session=session, camera_id=get_camera(session=session, code=code).id, status=status,
                              detail=detail)  # fmt: skip
    log_path = tmp / "web.log"
    log = open(log_path, "wb")  # noqa: SIM115 - the child writes to it until it stops
    pin = ["taskset", "-c", ",".join(map(str, sorted(cpus)))] if cpus else []
    proc = subprocess.Popen([*pin, sys.executable, "-m", "matthan", "web"], env=env, stdout=log, stderr=subprocess.STDOUT)
    web = WebProcess(f"http://127.0.0.1:{port}", proc, db, log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the web process exited: {log_path.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{web.url}/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the web process did not answer in 30 s")
            time.sleep(0.2)
        yield web
    finally:
        stop_process(proc)  # uvicorn runs the lifespan's shutdown: the hub closes everything
        log.close()
        db.dispose()


async def aiortc_offer() -> str:
    """An offer as a browser sends it (recvonly H.264 video, every candidate gathered), made by aiortc."""
    from aiortc import RTCConfiguration, RTCPeerConnection

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


def make_offer() -> str:
    return asyncio.run(aiortc_offer())
