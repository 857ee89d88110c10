"""What bench_detect.py measures, phases 1 and 2: decode + motion CPU, detector calls on a quiet scene (phase 3, motion
onset → event in the API, is in detect_onset.py)."""

from __future__ import annotations

import bisect
import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import yaml

from config import Settings
from config.settings import DetectConfig, IngestConfig
from detect.events import EventWriter
from detect.motion import MotionDetector
from detect.objects import Box, Detections, ObjectDetector
from detect.worker import DetectWorker
from detect.zones import ZoneMap
from ingest.frames import FrameReader
from matthan.runtime import cipher_for, import_inventory_file, open_storage
from matthan.simulator import scene
from matthan.simulator.runner import SimulatedCameras
from storage.credentials import generate_key
from storage.repo.cameras import CameraSource, camera_sources

SAMPLE_EVERY_S = 0.1  # counter snapshots for the quiet scene: boundaries placed to ±1.5 frames per stream
KEEP_INPUTS = 24  # model inputs kept from the run, replayed afterwards to time the model alone


# --- 1. decode + motion, ours (a Phase for bench_ingest.measure) ----------------------------------------------------


class OurDecodeMotion:
    """N real FrameReaders, each with a thread running a real MotionDetector on every frame it hands on, as each
    DetectWorker thread does before any object model (no tamper check, no events)."""

    label = "decode + motion, ours"
    counts_own_process = True

    def __init__(self, sources: list[CameraSource], ingest: IngestConfig, detect: DetectConfig) -> None:
        self.readers = [FrameReader(s, ingest=ingest, detect=detect) for s in sources]
        self.motions = [MotionDetector(detect, s.detection) for s in sources]
        n = len(sources)
        self.processed, self.moving, self.thread_cpu = [0] * n, [0] * n, [0.0] * n
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(k,), name=f"bench-motion-{s.code}", daemon=True)
                         for k, s in enumerate(sources)]  # fmt: skip

    def _run(self, k: int) -> None:
        reader, motion = self.readers[k], self.motions[k]
        while not self._stop.is_set():
            frame = reader.get(timeout=0.2)
            if frame is not None:
                self.processed[k] += 1
                self.moving[k] += motion.detect_frame(frame).moving
            self.thread_cpu[k] = time.thread_time()

    def start(self) -> None:
        for reader in self.readers:
            reader.start()
        for thread in self._threads:
            thread.start()

    def ready(self) -> bool:
        return all(self.processed)

    def pids(self) -> list[int]:
        return []

    def progress(self) -> list[Any]:
        return [(r.decoded, self.processed[k], r.dropped, self.moving[k], self.thread_cpu[k])
                for k, r in enumerate(self.readers)]  # fmt: skip

    def frames_between(self, before: list[Any], after: list[Any]) -> list[int]:
        return [a[0] - b[0] for b, a in zip(before, after)]

    def detail(self, before: list[Any], after: list[Any], seconds: float) -> str:
        handed = sorted((a[1] - b[1]) / seconds for b, a in zip(before, after))
        dropped = sum(a[2] - b[2] for b, a in zip(before, after))
        moving = sum(a[3] - b[3] for b, a in zip(before, after))
        processed = sum(a[1] - b[1] for b, a in zip(before, after))
        motion_cpu = sum(a[4] - b[4] for b, a in zip(before, after))
        return (f"motion ran on {handed[len(handed) // 2]:.1f} frames/s per stream (min {handed[0]:.1f}), "
                f"{dropped} dropped, {moving}/{processed} with motion; motion threads "
                f"{1000 * motion_cpu / max(processed, 1):.2f} ms CPU per frame they took (counted in ours)")

    def stop(self) -> None:
        self._stop.set()
        for reader in self.readers:
            reader.stop()
        for thread in self._threads:
            thread.join(timeout=5)


# --- settings and inventory for N simulated cameras ------------------------------------------------------------------


def write_config(root: Path, sim: SimulatedCameras, n: int, *, model: Path, imgsz: int) -> Path:
    """A settings YAML (SQLite, local store, everything under root) and an inventory of the simulator's N cameras.
    Detection settings are the production defaults except the model (trained here) and its input size."""
    root.mkdir(parents=True, exist_ok=True)
    inventory = {"site": {"code": "bench", "name": "Bench"},
                 "cameras": [{"code": f"cam-{i:02d}", "name": f"Camera {i}", "main_url": sim.main_url(i),
                              "sub_url": sim.sub_url(i)} for i in range(1, n + 1)]}  # fmt: skip
    (root / "inventory.yaml").write_text(yaml.safe_dump(inventory, allow_unicode=True))
    values = {
        "data_dir": str(root), "inventory": str(root / "inventory.yaml"),
        "database": {"url": f"sqlite:///{root / 'matthan.db'}"},
        "objectstore": {"backend": "local", "path": str(root / "objects")},
        "ingest": {"spool_dir": str(root / "spool")},
        "detect": {"model_path": str(model), "imgsz": imgsz},
        "web": {"secret_key": os.urandom(24).hex(), "port": 0},
        "security": {"credentials_key": generate_key()},
    }  # fmt: skip
    config = root / "settings.yaml"
    config.write_text(yaml.safe_dump(json.loads(json.dumps(values, default=str)), allow_unicode=True))
    return config


# --- 2. detector calls on a quiet scene --------------------------------------------------------------------------


class TimedObjects:
    """The real ObjectDetector behind DetectWorker's `objects` interface, timing each detect() (waiting for the
    shared model included) and keeping the last inputs that had regions, so the model can be timed alone later."""

    def __init__(self, detector: ObjectDetector) -> None:
        self.detector = detector
        self.seconds = 0.0
        self.count = 0
        self.inputs: deque[tuple[np.ndarray, list[Box] | None]] = deque(maxlen=KEEP_INPUTS)
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray, regions: list[Box] | None = None) -> Detections:
        started = time.perf_counter()
        found = self.detector.detect(image, regions)
        elapsed = time.perf_counter() - started
        with self._lock:
            self.seconds += elapsed
            self.count += 1
            if regions is None or regions:
                self.inputs.append((image, regions))
        return found

    def time_alone(self) -> tuple[float, float, int]:
        """Replay the kept inputs one after another: (seconds per model call, images per call, calls)."""
        calls, images = self.detector.calls, self.detector.images
        started = time.perf_counter()
        for image, regions in list(self.inputs):
            self.detector.detect(image, regions)
        elapsed = time.perf_counter() - started
        made = self.detector.calls - calls
        return (elapsed / made if made else float("nan"), (self.detector.images - images) / made if made else 0.0,
                made)


@dataclass(frozen=True)
class Counters:
    at: float  # wall clock, epoch seconds
    calls: int  # ObjectDetector.calls (shared by every camera)
    decoded: tuple[int, ...]  # FrameReader.decoded per camera
    processed: tuple[int, ...]  # DetectWorker.processed per camera
    dropped: tuple[int, ...]


@dataclass
class QuietRun:
    """What the quiet-scene phase saw: counter snapshots every SAMPLE_EVERY_S and the model's timing."""

    samples: list[Counters]
    model_call_s: float
    images_per_call: float
    timed_calls: int
    detect_wall_s: float  # mean wall time of one detect() in the pipeline, waiting for the shared model included
    detect_count: int
    cpu_s: float  # this process during the window
    problems: list[str] = field(default_factory=list)

    def at(self, t: float) -> Counters:
        """The last snapshot taken at or before t (the first one for earlier times)."""
        index = bisect.bisect_right([s.at for s in self.samples], t) - 1
        return self.samples[max(index, 0)]


class DetectPipeline:
    """Per camera a real FrameReader → DetectWorker (tamper, MotionDetector, the shared ObjectDetector on motion
    regions, EventWriter into SQLite and a local store), wired as matthan.runtime.Worker does, minus recording."""

    def __init__(self, settings: Settings, objects: TimedObjects) -> None:
        self.settings = settings
        self.db, self.store = open_storage(settings)
        import_inventory_file(settings, self.db, Path(str(settings.inventory)))
        with self.db.session() as session:
            self.sources = camera_sources(session=session, cipher=cipher_for(settings))
        self.objects = objects
        self.readers = [FrameReader(s, ingest=settings.ingest, detect=settings.detect) for s in self.sources]
        self.workers = [
            DetectWorker(reader, EventWriter(camera_id=s.camera_id, camera_code=s.code, db=self.db, store=self.store,
                                             zones=ZoneMap(s.detection.zones)),
                         settings.detect, motion=MotionDetector(settings.detect, s.detection), objects=objects)
            for s, reader in zip(self.sources, self.readers)
        ]  # fmt: skip

    def start(self) -> None:
        for reader in self.readers:
            reader.start()
        for worker in self.workers:
            worker.start()

    def ready(self) -> bool:
        return all(w.processed for w in self.workers)

    def counters(self) -> Counters:
        return Counters(time.time(), self.objects.detector.calls, tuple(r.decoded for r in self.readers),
                        tuple(w.processed for w in self.workers), tuple(r.dropped for r in self.readers))

    def stop(self) -> None:
        for reader in self.readers:
            reader.stop()
        for worker in self.workers:
            worker.stop()
        self.db.dispose()


def run_quiet(pipeline: DetectPipeline, *, warmup: float, seconds: float, ready_timeout: float) -> QuietRun:
    problems: list[str] = []
    pipeline.start()
    try:
        deadline = time.monotonic() + ready_timeout
        while not pipeline.ready() and time.monotonic() < deadline:
            time.sleep(0.2)
        if not pipeline.ready():
            problems.append(f"not every stream was up after {ready_timeout:.0f} s")
        time.sleep(warmup)
        samples: list[Counters] = []
        own = psutil.Process()
        cpu_before = sum(own.cpu_times()[:2])
        end = time.time() + seconds
        while (now := time.time()) < end:
            samples.append(pipeline.counters())
            time.sleep(max(0.0, min(SAMPLE_EVERY_S, end - now)))
        samples.append(pipeline.counters())
        cpu_s = sum(own.cpu_times()[:2]) - cpu_before
    finally:
        pipeline.stop()
    objects = pipeline.objects
    detect_wall, detect_count = objects.seconds / max(objects.count, 1), objects.count
    call_s, per_call, timed = objects.time_alone()  # after the window, with nothing else running in this process
    return QuietRun(samples, call_s, per_call, timed, detect_wall, detect_count, cpu_s, problems)


def still_spans(start: float, end: float, end_seconds: float) -> list[tuple[float, float]]:
    """The scene's still intervals inside [start, end), each starting end_seconds later when a crossing ends there
    (the detector may still see the object's last frames and absorb its ghost)."""
    crossing_ends = {round(b, 6) for _, b in scene.intervals(start - scene.CYCLE_SECONDS, end, moving=True)}
    spans = []
    for a, b in scene.intervals(start, end, moving=False):
        a = a + end_seconds if round(a, 6) in crossing_ends else a
        a, b = max(a, start), min(b, end)
        if b > a:
            spans.append((a, b))
    return spans
