"""README command 1, run as a person would: within 60 s of starting, the UI lists motion events."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_demo_lists_motion_events_within_a_minute(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "demo.log"
    with open(out, "wb") as log:
        demo = subprocess.Popen(["bash", "scripts/demo.sh", "--data", str(tmp_path / "demo"), "--port", str(port)],
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        started = None
        accounts: dict[str, str] = {}
        deadline = time.monotonic() + 180  # set-up (already installed here) + footage rendering
        while time.monotonic() < deadline and not accounts:
            assert demo.poll() is None, out.read_text()[-3000:]
            accounts = dict(re.findall(r"đăng nhập: (\w+) / (\S+)", out.read_text()))
            time.sleep(0.5)
        assert {"admin", "dieutra", "trucban"} <= set(accounts), out.read_text()[-3000:]
        started = time.monotonic()
        events: list[dict] = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            while time.monotonic() - started < 60 and not events:
                try:
                    if client.get("/api/auth/me").status_code == 401:
                        client.post("/api/auth/login", json={"username": "dieutra", "password": accounts["dieutra"]})
                    answer = client.get("/api/events")
                    events = answer.json()["items"] if answer.status_code == 200 else []
                except httpx.TransportError:
                    pass  # the web process is still starting
                time.sleep(1)
            elapsed = time.monotonic() - started
            assert events, f"no events 60 s after the demo started:\n{out.read_text()[-3000:]}"
            page = client.get("/events")
            assert page.status_code == 200 and str(events[0]["id"]) in page.text
        assert {e["camera"]["code"] for e in events} <= {"cam-01", "cam-02", "cam-03"}
        assert all(e["kind"] == "motion" for e in events)
        print(f"first event listed {elapsed:.1f} s after the demo printed its accounts")
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
    log = out.read_text()
    assert "Traceback" not in log, log[-3000:]
