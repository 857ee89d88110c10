"""A whole commune on one box: 13 direct cameras and a recorder's 2 channels, recorded for minutes by one real
`matthan worker` process (recording + detection), with no gap in any source's footage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from config import load_settings
from matthan.simulator.runner import SimulatedCameras
from storage.db import Database
from storage.models import Camera, Segment
from tests.conftest import CACHE, settings_values
from tests.ingest.test_faults import assert_contiguous

pytestmark = pytest.mark.slow
RUN_SECONDS = float(os.environ.get("MATTHAN_COMMUNE_SECONDS", "180"))


def test_fifteen_sources_record_for_minutes_without_gaps(tmp_path: Path) -> None:
    with SimulatedCameras(cache_dir=CACHE / "footage", count=15, scenes=3, main_size=(640, 360),
                          sub_size=(320, 180)) as sim:
        base = f"rtsp://127.0.0.1:{sim.port}"
        inventory = {
            "site": {"code": "thuan-quy", "name": "Xã Thuận Quý"},
            # the recorder's channels 4 and 5 are the simulator's cameras 14 and 15
            "recorders": [{"code": "nvr-1", "name": "Đầu thu UBND", "vendor": "generic", "host": "127.0.0.1",
                           "port": sim.port, "channels": 5, "main_template": "/cam1{ch}/main",
                           "sub_template": "/cam1{ch}/sub"}],
            "cameras": [{"code": f"cam-{i:02d}", "name": f"Camera {i}", "main_url": f"{base}/cam{i}/main",
                         "sub_url": f"{base}/cam{i}/sub"} for i in range(1, 14)]
            + [{"code": f"nvr-ch{ch}", "name": f"Kênh {ch}", "recorder": "nvr-1", "channel": ch} for ch in (4, 5)],
        }
        (tmp_path / "inventory.yaml").write_text(yaml.safe_dump(inventory, allow_unicode=True))
        values = settings_values(tmp_path, ingest={"segment_seconds": 10})
        values["inventory"] = str(tmp_path / "inventory.yaml")
        config = tmp_path / "settings.yaml"
        config.write_text(yaml.safe_dump(json.loads(json.dumps(values, default=str))))
        settings = load_settings(config)
        env = dict(os.environ, MATTHAN_CONFIG=str(config))
        subprocess.run([sys.executable, "-m", "matthan", "init"], env=env, check=True, timeout=60,
                       capture_output=True)
        log = open(tmp_path / "worker.log", "wb")
        worker = subprocess.Popen([sys.executable, "-m", "matthan", "worker"], env=env, stdout=log, stderr=log)
        started = time.time()
        time.sleep(RUN_SECONDS)
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
        cpu = _tree_cpu_seconds(worker.pid)
        stopped = time.time()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0
    db = Database(settings.database.url)
    with db.session() as s:
        cameras = {c.id: c.code for c in s.scalars(select(Camera))}
        rows = list(s.scalars(select(Segment).order_by(Segment.camera_id, Segment.start_at)))
    assert len(cameras) == 15
    seg_s = settings.ingest.segment_seconds
    for camera_id, code in cameras.items():
        mine = [r for r in rows if r.camera_id == camera_id]
        assert mine, f"{code} recorded nothing"
        assert_contiguous(mine, slack_s=seg_s)
        covered = (mine[-1].end_at - mine[0].start_at).total_seconds()
        assert covered >= (stopped - started) - 2 * seg_s - 5, f"{code} covered only {covered:.0f} s"
    print(f"\n15 sources for {stopped - started:.0f} s: worker + ffmpeg children used "
          f"{100 * cpu / (stopped - started):.1f}% of one core (recording + decoding + motion)")
    db.dispose()


def _tree_cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its live children, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(proc.name) == pid or int(fields[1]) == pid:  # fields[1] is the parent pid
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total
