"""Detection end to end: a model the tests train sees the simulated motorbike cross the road — one vehicle event
with the right label, zone and time — and a quiet street raises nothing. A real `matthan worker` process."""

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
from matthan.simulator import scene
from matthan.simulator.runner import SimulatedCameras
from storage.db import Database
from storage.models import Event
from tests.conftest import CACHE, settings_values
from tests.detect.model_factory import DEFAULT

pytestmark = [pytest.mark.slow, pytest.mark.trained_model, pytest.mark.timeout(1800)]
TOLERANCE_S = 1.0
# the road the motorbike rides (its wheels touch y = 0.80 of the frame) and the pavement the walker uses (0.93)
ZONES = {"đường": [(0.0, 0.70), (1.0, 0.70), (1.0, 0.88), (0.0, 0.88)],
         "vỉa hè": [(0.0, 0.88), (1.0, 0.88), (1.0, 1.0), (0.0, 1.0)]}


def overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return min(a[1], b[1]) - max(a[0], b[0])


def test_one_vehicle_event_per_motorbike_crossing(tmp_path: Path, test_model: Path) -> None:
    model = test_model
    with SimulatedCameras(cache_dir=CACHE / "footage", count=1, main_size=(640, 360), sub_size=(640, 360)) as sim:
        inventory = {"site": {"code": "x", "name": "X"},
                     "cameras": [{"code": "cam-01", "name": "Cổng trường", "main_url": sim.main_url(1),
                                  "sub_url": sim.sub_url(1), "detection": {"zones": ZONES}}]}
        (tmp_path / "inventory.yaml").write_text(yaml.safe_dump(inventory, allow_unicode=True))
        values = settings_values(tmp_path, detect={"model_path": str(model), "fps": 5.0, "imgsz": DEFAULT.imgsz})
        values["inventory"] = str(tmp_path / "inventory.yaml")
        config = tmp_path / "settings.yaml"
        config.write_text(yaml.safe_dump(json.loads(json.dumps(values, default=str)), allow_unicode=True))
        settings = load_settings(config)
        env = dict(os.environ, MATTHAN_CONFIG=str(config))
        subprocess.run([sys.executable, "-m", "matthan", "init"], env=env, check=True, timeout=60,
                       capture_output=True)
        log_path = tmp_path / "worker.log"
        worker = subprocess.Popen([sys.executable, "-m", "matthan", "worker"], env=env,
                                  stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)
        started = time.time()
        db = Database(settings.database.url)
        # run until one whole motorbike crossing, begun after start-up, has ended (at most a cycle + the crossing)
        crossing = next(m for m in scene.intervals(started + 3, started + 200, moving=True)
                        if m[0] >= started + 3 and m[1] - m[0] == 7.0)
        try:
            while time.time() < crossing[1] + settings.detect.end_seconds + 4:
                assert worker.poll() is None, log_path.read_text()[-3000:]
                time.sleep(0.5)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
    log = log_path.read_text()
    assert "object model" in log and "loaded" in log, log[-2000:]
    with db.session() as s:
        events = [e for e in s.scalars(select(Event).order_by(Event.start_at)) if e.start_at.timestamp() > started + 3]
    spans = {e.id: (e.start_at.timestamp(), (e.end_at or e.start_at).timestamp()) for e in events}
    vehicles = [e for e in events if e.kind == "vehicle" and overlap(spans[e.id], crossing) > 0]
    assert len(vehicles) == 1, [(e.kind, e.labels, spans[e.id]) for e in events]
    event = vehicles[0]
    assert event.labels[0] == "motorbike" and event.label_scores["motorbike"] >= 0.5
    assert "đường" in event.zones and "vỉa hè" not in event.zones
    assert crossing[0] - TOLERANCE_S <= spans[event.id][0] <= crossing[0] + 2.0
    assert crossing[1] - 2.0 <= spans[event.id][1] <= crossing[1] + settings.detect.end_seconds + TOLERANCE_S
    assert event.snapshot_key
    # nothing at all starts in a still interval (after start-up)
    for e in events:
        for still in scene.intervals(spans[e.id][0] - 60, spans[e.id][1] + 60, moving=False):
            assert not (still[0] + TOLERANCE_S < spans[e.id][0] < still[1] - TOLERANCE_S), (e.kind, spans[e.id], still)
    db.dispose()
