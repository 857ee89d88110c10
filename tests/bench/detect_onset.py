"""What bench_detect.py measures, phase 3: motion onset → event in the API, with a real `matthan worker` process and
a user polling the events list."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from config import Settings, load_settings
from detect_phases import still_spans, write_config
from ingest.proc import die_with_parent
from matthan.runtime import open_storage
from matthan.simulator import scene
from matthan.simulator.runner import SimulatedCameras
from storage.repo.users import create_user

POLL_EVERY_S = 0.1
STOP_TIMEOUT_S = 60.0  # the worker uploads what is left in its spool before it exits
USER, PASSWORD = "bench", "bench-mat-khau-dai"
MOTION_KINDS = frozenset({"motion", "vehicle", "person"})  # not tamper or offline


def prepare_worker_config(root: Path, sim: SimulatedCameras, n: int, *, model: Path, imgsz: int) -> Settings:
    """Settings for `matthan worker`, the database initialised by `matthan init` and a user for the API."""
    config = write_config(root, sim, n, model=model, imgsz=imgsz)
    env = dict(os.environ, MATTHAN_CONFIG=str(config))
    subprocess.run([sys.executable, "-m", "matthan", "init"], env=env, check=True, timeout=120,
                   capture_output=True)  # fmt: skip
    settings = load_settings(config)
    db, _ = open_storage(settings)
    try:
        with db.session() as session:
            create_user(session=session, username=USER, password=PASSWORD, role="duty")
    finally:
        db.dispose()
    return settings


class WorkerProcess:
    """`python -m matthan worker` in its own process group; stopped with SIGTERM like systemd would, then killed."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ, MATTHAN_CONFIG=str(self.config))
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "matthan", "worker"], env=env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=die_with_parent)  # fmt: skip

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tree(self) -> list[psutil.Process]:
        if not self.alive():
            return []
        assert self.proc is not None
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu(self) -> dict[int, float]:
        """pid -> user+system seconds of the worker and its ffmpeg children."""
        times = {}
        for proc in self.tree():
            try:
                t = proc.cpu_times()
                times[proc.pid] = t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return times

    def recorder_pids(self) -> set[int]:
        """The recorders' long-running ffmpeg (`-f segment`); clip cutting and ffprobe come and go."""
        pids = set()
        for proc in self.tree()[1:]:
            try:
                if "segment" in proc.cmdline():
                    pids.add(proc.pid)
            except psutil.NoSuchProcess:
                pass
        return pids

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        family = self.tree()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        for child in family[1:]:  # recorders' ffmpeg have their own process groups; none may outlive the bench
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        return self.proc.returncode


@dataclass(frozen=True)
class Seen:
    event_id: int
    camera: str
    kind: str
    start_at: float
    end_at: float | None
    first_seen: float  # wall clock when a listing holding it came back


class EventPoller:
    """GET /api/events every POLL_EVERY_S as a logged-in user; remembers when each event was first listed."""

    def __init__(self, client: httpx.Client, since: float) -> None:
        self.client = client
        self.since = since
        self.seen: dict[int, Seen] = {}
        self.polls = 0
        self.slowest_s = 0.0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        params = {"start": dt.datetime.fromtimestamp(self.since, dt.UTC).isoformat(), "limit": 500}
        while not self._stop.is_set():
            sent = time.monotonic()
            try:
                answer = self.client.get("/api/events", params=params)
                answer.raise_for_status()
                now = time.time()
                for item in answer.json()["items"]:
                    if item["id"] not in self.seen:
                        end = item["end_at"]
                        self.seen[item["id"]] = Seen(item["id"], item["camera"]["code"], item["kind"],
                                                     dt.datetime.fromisoformat(item["start_at"]).timestamp(),
                                                     dt.datetime.fromisoformat(end).timestamp() if end else None,
                                                     now)  # fmt: skip
                self.polls += 1
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                if len(self.errors) < 5:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
            took = time.monotonic() - sent
            self.slowest_s = max(self.slowest_s, took)
            self._stop.wait(max(0.0, POLL_EVERY_S - took))


@dataclass(frozen=True)
class Onset:
    camera: str
    kind: str  # the crossing's object
    start: float  # the crossing's start (epoch s)
    latency: float | None  # seconds from the crossing start until an event for it was listed; None: never listed
    event_kind: str = ""
    event_start: float | None = None  # the event's start_at: the time of its first moving frame


def onsets(seen: Sequence[Seen], cameras: Sequence[str], crossings: Sequence[tuple[float, float]],
           tolerance: float) -> list[Onset]:
    """Per camera and crossing (start, end): the first listed event of that camera starting inside the crossing
    (from `tolerance` before it), and how long after the crossing's start it was listed."""
    found: list[Onset] = []
    for camera in cameras:
        mine = [s for s in seen if s.camera == camera and s.kind in MOTION_KINDS]
        for a, b in crossings:
            first = min((s for s in mine if a - tolerance <= s.start_at < b), key=lambda s: s.first_seen,
                        default=None)  # fmt: skip
            kind = next((c.kind for c in scene.CROSSINGS if abs(a % scene.CYCLE_SECONDS - c.start) < 1e-3), "?")
            found.append(Onset(camera, kind, a, None if first is None else first.first_seen - a,
                               "" if first is None else first.kind,
                               None if first is None else first.start_at))  # fmt: skip
    return found


def false_alarms(seen: Sequence[Seen], start: float, end: float, end_seconds: float) -> list[Seen]:
    """Motion events starting inside a still interval of [start, end) (trimmed as for the quiet scene)."""
    spans = still_spans(start, end, end_seconds)
    return [s for s in seen if s.kind in MOTION_KINDS and any(a <= s.start_at < b for a, b in spans)]
