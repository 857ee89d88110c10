"""One worker per spool directory (ingest/spool_lock.py): a second one waits for the first to exit, or refuses with a
message that says which process holds the spool and what to do; a killed holder leaves nothing stale."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.spool_lock import LOCK_NAME, SpoolInUse, SpoolLock
from tests.conftest import init_site, settings_values
from tests.waiting import stop_process, wait_for

HOLD = """
import sys, time
from pathlib import Path
from ingest.spool_lock import SpoolLock
lock = SpoolLock(Path(sys.argv[1]), node="nut-cu")
print("held", flush=True)
time.sleep(600)
"""


def test_a_second_lock_on_the_spool_is_refused_with_who_holds_it(tmp_path: Path) -> None:
    first = SpoolLock(tmp_path / "spool", node="xa-thuan-quy-1")
    started = time.monotonic()
    with pytest.raises(SpoolInUse) as refused:
        SpoolLock(tmp_path / "spool", node="xa-thuan-quy-1", wait_s=1.0)
    assert 1.0 <= time.monotonic() - started < 5.0  # it waited for the holder, then gave up
    message = str(refused.value)
    assert f"pid {os.getpid()}, node xa-thuan-quy-1" in message
    assert str(tmp_path / "spool") in message and "Stop the other one first" in message
    assert "ingest.spool_dir" in message
    first.release()
    second = SpoolLock(tmp_path / "spool", node="xa-thuan-quy-2", wait_s=0)
    assert second.held
    assert "node xa-thuan-quy-2" in (tmp_path / "spool" / LOCK_NAME).read_text()
    second.release()


def test_a_killed_holder_leaves_nothing_stale(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "spool")], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(SpoolInUse, match=rf"pid {holder.pid}, node nut-cu"):
            SpoolLock(tmp_path / "spool", node="xa", wait_s=0)
        holder.kill()  # SIGKILL: no shutdown code runs
        holder.wait()
        lock = SpoolLock(tmp_path / "spool", node="xa", wait_s=0)
        assert lock.held
        lock.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_a_worker_started_while_another_shuts_down_waits_for_it(tmp_path: Path) -> None:
    """`matthan worker` twice on one site: the second waits (it says so) and starts once the first has exited."""
    env = init_site(tmp_path / "settings.yaml", settings_values(tmp_path))
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    first = subprocess.Popen([sys.executable, "-m", "matthan", "worker"], env=env, stdout=log_a.open("w"),
                             stderr=subprocess.STDOUT)  # fmt: skip
    second: subprocess.Popen[bytes] | None = None
    try:
        wait_for(lambda: "ingest started" in log_a.read_text(), 60, "the first worker to start")
        second = subprocess.Popen([sys.executable, "-m", "matthan", "worker"], env=env, stdout=log_b.open("w"),
                                  stderr=subprocess.STDOUT)  # fmt: skip
        wait_for(lambda: "held by another worker" in log_b.read_text(), 30, "the second worker to say it waits")
        assert f"pid {first.pid}" in log_b.read_text()
        assert "ingest started" not in log_b.read_text() and second.poll() is None
        stop_process(first)
        assert first.returncode == 0, log_a.read_text()
        wait_for(lambda: "ingest started" in log_b.read_text(), 30, "the second worker to start after the first")
    finally:
        stop_process(first)
        if second is not None:
            stop_process(second)
    assert second.returncode == 0, log_b.read_text()
