"""Benchmark: decode + motion CPU beside bare ffmpeg, object-model calls on a quiet scene, motion onset → event in the API.

Run: .venv/bin/python tests/bench/bench_detect.py [--cameras 4] [--seconds 60]   (see tests/bench/README.md)
"""

from __future__ import annotations

import argparse
import logging
import math
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx
import psutil

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(1, str(REPO))  # tests.* (the model factory, the web app in a thread) is not an installed package

from bench_ingest import FPS, MAIN_SIZE, MIN_FPS_SHARE, SUB_SIZE, Result, finish, measure, sim_resyncs  # noqa: E402
from config import load_settings  # noqa: E402
from config.settings import DetectConfig, IngestConfig  # noqa: E402
from detect.objects import ObjectDetector  # noqa: E402
from detect_onset import (  # noqa: E402
    PASSWORD, USER, EventPoller, Onset, Seen, WorkerProcess, false_alarms, onsets, prepare_worker_config,
)  # fmt: skip
from detect_phases import (  # noqa: E402
    DetectPipeline, OurDecodeMotion, QuietRun, TimedObjects, run_quiet, still_spans, write_config,
)  # fmt: skip
from ingest_phases import ReferenceDecode, camera_sources  # noqa: E402
from matthan.runtime import use_one_opencv_thread  # noqa: E402
from matthan.simulator import scene  # noqa: E402
from matthan.simulator.runner import SimulatedCameras  # noqa: E402
from tests.detect.model_factory import DEFAULT as RECIPE  # noqa: E402
from tests.detect.model_factory import offline_ultralytics  # noqa: E402
from tests.review_ui_server import serve  # noqa: E402

DETECT_FPS = 5.0  # the production default (DetectConfig.fps)
CPU_RATIO_TARGET = 1.30
QUIET_CALLS_TARGET = 0.10
ONSET_P95_TARGET_S = 2.0
MIN_ONSETS = 10
LATE_S = 10.0  # an event listed later than this after its crossing started counts as never listed
ONSET_TOLERANCE_S = 1.0  # an event may start this much before the crossing (frame times vs the server's clock)
MIN_STILL_S = 10.0
READY_TIMEOUT_S = 30.0
WORKER_READY_TIMEOUT_S = 180.0  # importing torch and loading the model take a while on two busy cores
DEFAULT_CACHE = Path.home() / ".cache" / "matthan-bench"
MODEL_CACHE = Path.home() / ".cache" / "matthan-tests" / "models"


@dataclass
class Latency:
    onsets: list[Onset]
    window: tuple[float, float]
    worker_cores: float
    polls: int
    slowest_poll_s: float
    seen: list[Seen]
    false: list[Seen]
    problems: list[str] = field(default_factory=list)

    def values(self) -> list[float]:
        return sorted(math.inf if o.latency is None else o.latency for o in self.onsets)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile: the smallest value with at least q of the samples at or below it."""
    if not sorted_values:
        return math.nan
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


# --- 1. decode + motion ------------------------------------------------------------------------------------------


def bench_cpu(sim: SimulatedCameras, n: int, args: argparse.Namespace, root: Path) -> tuple[Result, Result]:
    sim_pids = {c.pid for c in psutil.Process().children(recursive=True)}
    subs = [sim.sub_url(i) for i in range(1, n + 1)]
    sources = camera_sources([sim.main_url(i) for i in range(1, n + 1)], subs)
    ingest = IngestConfig(spool_dir=root / "spool")
    ref = measure(ReferenceDecode(subs), n, sim, sim_pids, args.warmup, args.seconds)
    time.sleep(1.0)  # let the server tear the previous sessions down
    ours = measure(OurDecodeMotion(sources, ingest, DetectConfig(fps=DETECT_FPS)), n, sim, sim_pids, args.warmup,
                   args.seconds)  # fmt: skip
    return ref, ours


def per_frame_ms(result: Result) -> float:
    frames = sum(result.fps) * result.seconds
    return 1000 * result.cpu_s / frames if frames else math.inf


# --- 2. quiet scene ------------------------------------------------------------------------------------------------


def bench_quiet(sim: SimulatedCameras, n: int, args: argparse.Namespace, root: Path, model: Path) -> QuietRun:
    print(f"  detection pipeline with the model: starting {n} ...", end="", flush=True)
    settings = load_settings(write_config(root / "quiet", sim, n, model=model, imgsz=RECIPE.imgsz))
    offline_ultralytics(args.models / "ultralytics-config")  # the tests' ultralytics settings, no network
    detector = ObjectDetector.load(model, imgsz=RECIPE.imgsz, min_scores=settings.detect.min_scores)
    resyncs = sim_resyncs(sim)
    run = run_quiet(DetectPipeline(settings, TimedObjects(detector)), warmup=args.warmup, seconds=args.seconds,
                    ready_timeout=READY_TIMEOUT_S)  # fmt: skip
    if sim_resyncs(sim) > resyncs:
        run.problems.append(f"the simulator fell behind {sim_resyncs(sim) - resyncs} times")
    first, last = run.samples[0], run.samples[-1]
    print(f" {last.calls - first.calls} model calls, {sum(last.decoded) - sum(first.decoded)} frames decoded")
    return run


@dataclass(frozen=True)
class QuietFigures:
    still_s: float
    still_calls: int
    still_frames: int
    busy_calls: int
    busy_frames: int
    window_s: float
    fps: list[float]  # decoded per stream
    detect_fps: list[float]  # handed on and processed by detection, per stream
    dropped: int

    @property
    def quiet(self) -> float:
        return self.still_calls / self.still_frames if self.still_frames else math.inf

    @property
    def busy(self) -> float:
        return self.busy_calls / self.busy_frames if self.busy_frames else math.inf


def quiet_figures(run: QuietRun, end_seconds: float) -> QuietFigures:
    first, last = run.samples[0], run.samples[-1]
    still_s, still_calls, still_frames = 0.0, 0, 0
    for a, b in still_spans(first.at, last.at, end_seconds):
        lo, hi = run.at(a), run.at(b)
        still_s += b - a
        still_calls += hi.calls - lo.calls
        still_frames += sum(hi.decoded) - sum(lo.decoded)
    window = last.at - first.at
    return QuietFigures(still_s, still_calls, still_frames, last.calls - first.calls,
                        sum(last.decoded) - sum(first.decoded), window,
                        [(a - b) / window for a, b in zip(last.decoded, first.decoded)],
                        [(a - b) / window for a, b in zip(last.processed, first.processed)],
                        sum(last.dropped) - sum(first.dropped))  # fmt: skip


# --- 3. motion onset → event in the API ------------------------------------------------------------------------------


def bench_latency(sim: SimulatedCameras, n: int, args: argparse.Namespace, root: Path, model: Path) -> Latency:
    print(f"  matthan worker + web app: starting {n} cameras ...", end="", flush=True)
    work = root / "latency"
    settings = prepare_worker_config(work, sim, n, model=model, imgsz=RECIPE.imgsz)
    cameras = [f"cam-{i:02d}" for i in range(1, n + 1)]
    problems: list[str] = []
    worker = WorkerProcess(work / "settings.yaml", work / "worker.log")
    with serve(settings) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        answer = client.post("/api/auth/login", json={"username": USER, "password": PASSWORD})
        answer.raise_for_status()
        worker.start()
        try:
            deadline = time.monotonic() + WORKER_READY_TIMEOUT_S
            while not worker_ready(worker, client, cameras) and time.monotonic() < deadline:
                if not worker.alive():
                    raise RuntimeError(f"matthan worker exited: {worker.log()[-2000:]}")
                time.sleep(0.5)
            if not worker_ready(worker, client, cameras):
                problems.append(f"the worker was not recording every camera after {WORKER_READY_TIMEOUT_S:.0f} s")
            time.sleep(args.warmup)
            t0 = time.time()
            crossings = [m for m in scene.intervals(t0, t0 + 10 * scene.CYCLE_SECONDS, moving=True) if m[0] >= t0]
            needed = crossings[math.ceil(MIN_ONSETS / n) - 1][0] + LATE_S
            t_end = max(t0 + args.seconds, needed)
            counted = [m for m in crossings if m[0] <= t_end - LATE_S]
            log_at, resyncs, cpu_before = len(worker.log()), sim_resyncs(sim), worker.cpu()
            recorders = worker.recorder_pids()
            poller = EventPoller(client, since=t0)
            poller.start()
            try:
                while time.time() < t_end:
                    if not worker.alive():
                        problems.append("the worker exited during the window")
                        break
                    time.sleep(0.5)
            finally:
                poller.stop()
            window = time.time() - t0
            cpu_after = worker.cpu()
            recorders_after = worker.recorder_pids()
            statuses = {c["code"]: c["status"] for c in client.get("/api/cameras").json()}
        finally:
            code = worker.stop()
    if len(recorders) != n or recorders != recorders_after:
        problems.append(f"the worker's recording ffmpeg processes changed in the window ({len(recorders)} -> "
                        f"{len(recorders_after)}, {len(recorders - recorders_after)} gone): a recorder restarted")
    retries = worker.log()[log_at:].count("retrying")
    if retries:
        problems.append(f"the worker log says 'retrying' {retries} times in the window (a stream dropped)")
    if sim_resyncs(sim) > resyncs:
        problems.append(f"the simulator fell behind {sim_resyncs(sim) - resyncs} times")
    offline = [s for s in poller.seen.values() if s.kind == "offline" and s.first_seen >= t0]
    if offline or any(v != "online" for v in statuses.values()):
        problems.append(f"cameras went offline: statuses {statuses}, offline events {len(offline)}")
    if poller.errors:
        problems.append(f"polling the API failed: {poller.errors[0]}")
    if code not in (0, None):
        problems.append(f"matthan worker exited with {code} when stopped")
    # processes that lived through the window; clip cutting started meanwhile is partly left out (context only)
    common = cpu_before.keys() & cpu_after.keys()
    cores = sum(cpu_after[p] - cpu_before[p] for p in common) / window
    seen = sorted(poller.seen.values(), key=lambda s: s.start_at)
    result = Latency(onsets(seen, cameras, counted, ONSET_TOLERANCE_S), (t0, t0 + window), cores, poller.polls,
                     poller.slowest_s, seen, false_alarms(seen, t0, t0 + window, settings.detect.end_seconds),
                     problems)  # fmt: skip
    values = result.values()
    print(f" {len(values)} onsets, p95 {percentile(values, 0.95):.2f} s")
    return result


def worker_ready(worker: WorkerProcess, client: httpx.Client, cameras: list[str]) -> bool:
    if "ingest started" not in worker.log():
        return False
    try:
        statuses = {c["code"]: c["status"] for c in client.get("/api/cameras").json()}
    except (httpx.HTTPError, ValueError):
        return False
    return all(statuses.get(c) == "online" for c in cameras)


# --- the report --------------------------------------------------------------------------------------------------


def report(n: int, ref: Result, ours: Result, quiet: QuietRun, qf: QuietFigures, lat: Latency,
           end_seconds: float) -> list[str]:
    ncpu = psutil.cpu_count() or 1
    ref_ms, our_ms = per_frame_ms(ref), per_frame_ms(ours)
    ratio = our_ms / ref_ms if ref_ms else math.inf
    values = lat.values()
    p50, p95, worst = percentile(values, 0.5), percentile(values, 0.95), values[-1] if values else math.nan
    missed = sum(o.latency is None for o in lat.onsets)
    print()
    print(f"cameras={n}  sub streams {SUB_SIZE[0]}x{SUB_SIZE[1]} @ {FPS} fps, detection at {DETECT_FPS:g} fps  "
          f"({ncpu} cores)")
    print(f"{'':40}{'ours':>10}    {'reference':<22}{'ratio':>7}   target")
    print(f"{'1 CPU ms per decoded frame':40}{our_ms:>10.3f}    {f'{ref_ms:.3f} (ffmpeg -f null)':<22}{ratio:>7.2f}   "
          f"≤ {CPU_RATIO_TARGET:.2f}")
    print(f"{'    % core per stream':40}{ours.per_stream_pct():>10.3f}    {ref.per_stream_pct():<22.3f}")
    print(f"{'2 model calls per decoded frame, quiet':40}{qf.quiet:>10.4f}    {'':22}{'':>7}   "
          f"≤ {QUIET_CALLS_TARGET:.2f}")
    print(f"{'    over whole cycles (busy)':40}{qf.busy:>10.4f}    {'':22}{'':>7}   (context)")
    print(f"{'    model alone, ms per call':40}{1000 * quiet.model_call_s:>10.1f}    "
          f"{quiet.images_per_call:.2f} images/call, {quiet.timed_calls} calls replayed")
    print(f"{'    detect() in the pipeline, ms':40}{1000 * quiet.detect_wall_s:>10.1f}    "
          f"mean of {quiet.detect_count}, waiting for the shared model included")
    print(f"{'3 motion onset → event in the API, p95 s':40}{p95:>10.2f}    {'':22}{'':>7}   "
          f"≤ {ONSET_P95_TARGET_S:.2f}")
    print(f"{'    p50 / max s':40}{p50:>10.2f}    {f'{worst:.2f}':<22}")
    print(f"{'    onsets (cameras x crossings), missed':40}{len(values):>10d}    {missed}")
    hits = [o for o in lat.onsets if o.latency is not None and o.event_start is not None]
    if hits:
        motion = sum(o.event_start - o.start for o in hits) / len(hits)  # type: ignore[operator]
        listed = sum(o.start + o.latency - o.event_start for o in hits) / len(hits)  # type: ignore[operator]
        print(f"{'    of which (means): motion seen':40}{motion:>10.2f}    then listed {listed:.2f} s later "
              "(first moving frame; its event in the API)")
    print("notes: 1 'frame' = a frame decoded from the sub stream (15/s); ours also makes a small grey picture of 5")
    print("       of them a second and runs MotionDetector on it. 2 counts ObjectDetector.calls during the still")
    print(f"       intervals only (each starting {end_seconds:g} s after a crossing ends). 3 = first listing by")
    print("       GET /api/events (polled every 100 ms) of an event starting in the crossing, minus the crossing's")
    print("       start (object in view ~0.07 s later). Per-onset latencies:")
    for o in sorted(lat.onsets, key=lambda o: (o.start, o.camera)):
        shown = "never" if o.latency is None or o.event_start is None else \
            f"{o.latency:.2f} s (first moving frame +{o.event_start - o.start:.2f} s)"
        print(f"         {time.strftime('%H:%M:%S', time.gmtime(o.start))}Z {o.camera} {o.kind:9} {shown}")
    print("checks:")
    for res in (ref, ours):
        fps = sorted(res.fps)
        print(f"  1 {res.label:22} {fps[0]:5.1f} / {fps[len(fps) // 2]:5.1f} frames/s per stream (min / median); "
              f"other load {res.other_s / res.seconds:.2f} cores of {ncpu}; {res.detail}")
    fps, dfps = sorted(qf.fps), sorted(qf.detect_fps)
    print(f"  2 decoded {fps[0]:.1f} / {fps[len(fps) // 2]:.1f} frames/s per stream (min / median), detection took "
          f"{dfps[0]:.1f} / {dfps[len(dfps) // 2]:.1f} frames/s, {qf.dropped} dropped; window {qf.window_s:.0f} s, "
          f"of which still {qf.still_s:.0f} s ({qf.still_frames} frames, {qf.still_calls} calls); "
          f"this process {quiet.cpu_s / qf.window_s:.2f} cores")
    print(f"  3 window {lat.window[1] - lat.window[0]:.0f} s, {lat.polls} polls (slowest {lat.slowest_poll_s:.2f} s), "
          f"{len(lat.seen)} events listed, {len(lat.false)} starting in a still interval; "
          f"worker + its ffmpeg {lat.worker_cores:.2f} cores")
    invalid = [f"1 {x.label}: {p}" for x in (ref, ours) for p in x.problems]
    least = MIN_FPS_SHARE * FPS
    if fps[0] < least:
        invalid.append(f"2 a stream decoded only {fps[0]:.1f} frames/s (< {least:.1f})")
    if qf.still_s < MIN_STILL_S:
        invalid.append(f"2 only {qf.still_s:.0f} s of still scene in the window")
    invalid += [f"2 {p}" for p in quiet.problems] + [f"3 {p}" for p in lat.problems]
    if len(values) < MIN_ONSETS:
        invalid.append(f"3 only {len(values)} onsets (< {MIN_ONSETS})")
    for line in invalid:
        print(f"  INVALID {line}")
    tag = "INVALID" if invalid else None

    def verdict(ok: bool, text: str) -> str:
        return f"{tag or ('PASS' if ok else 'FAIL')}  cameras={n}: {text}"

    return [
        verdict(ratio <= CPU_RATIO_TARGET, f"decode + motion {ratio:.2f}x bare ffmpeg decode per frame "
                                           f"(target ≤ {CPU_RATIO_TARGET:.2f}x)"),
        verdict(qf.quiet <= QUIET_CALLS_TARGET, f"{qf.quiet:.4f} model calls per decoded frame on a quiet scene "
                                                f"(target ≤ {QUIET_CALLS_TARGET:.2f})"),
        verdict(p95 <= ONSET_P95_TARGET_S, f"motion onset → event in the API p95 {p95:.2f} s over {len(values)} "
                                           f"onsets, {missed} missed (target ≤ {ONSET_P95_TARGET_S:.1f} s)"),
    ]


def ensure_model(cache: Path) -> Path:
    """The trained model's path; trained in a child process when missing, so torch never ran in this one before
    part 1 measures it. The factory's file lock makes this wait while another process trains the same recipe."""
    code = ("import sys; from pathlib import Path; from tests.detect.model_factory import offline_ultralytics, "
            "trained_model; cache = Path(sys.argv[1]); offline_ultralytics(cache / 'ultralytics-config'); "
            "print(trained_model(cache))")
    done = subprocess.run([sys.executable, "-c", code, str(cache)], cwd=REPO, stdout=subprocess.PIPE, text=True,
                          check=True)  # fmt: skip
    return Path(done.stdout.strip().splitlines()[-1])


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds through every finally: processes get stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, default=4, help="simulated cameras (default 4)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="measured window of each part (default 60); part 3 runs longer if needed for "
                             f"{MIN_ONSETS} onsets")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds after every stream is up (default 5)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"footage cache (default {DEFAULT_CACHE})")
    parser.add_argument("--models", type=Path, default=MODEL_CACHE,
                        help=f"trained model cache, shared with the tests (default {MODEL_CACHE})")
    args = parser.parse_args(argv)
    if args.cameras < 1 or args.seconds <= 0 or args.warmup < 0:
        parser.error("--cameras and --seconds must be positive")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    if shutil.which("ffmpeg") is None:
        print("ffmpeg not found: apt-get install ffmpeg", file=sys.stderr)
        return 2
    n = args.cameras
    use_one_opencv_thread()  # as `matthan worker` does
    root = Path(tempfile.mkdtemp(prefix="matthan-bench-detect-"))
    started = time.monotonic()
    try:
        print(f"model: trained by tests/detect/model_factory.py (imgsz {RECIPE.imgsz}), cache {args.models} "
              "(trains it the first time: a few minutes)", flush=True)
        model = ensure_model(args.models)
        print(f"cameras={n}: preparing footage ({min(n, 4)} scenes, sub {SUB_SIZE[0]}x{SUB_SIZE[1]}, {FPS} fps) and "
              "the RTSP server", flush=True)
        with SimulatedCameras(args.cache / "footage", count=n, main_size=MAIN_SIZE, sub_size=SUB_SIZE, fps=FPS,
                              scenes=min(n, 4)) as sim:  # fmt: skip
            ref, ours = bench_cpu(sim, n, args, root)  # first: nothing else has run in this process yet
            time.sleep(1.0)
            quiet = bench_quiet(sim, n, args, root, model)
            time.sleep(1.0)
            latency = bench_latency(sim, n, args, root, model)
        end_seconds = DetectConfig().end_seconds
        verdicts = report(n, ref, ours, quiet, quiet_figures(quiet, end_seconds), latency, end_seconds)
    except KeyboardInterrupt:
        print("\ninterrupted: everything started has been stopped", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return finish(verdicts, started)


if __name__ == "__main__":
    sys.exit(main())
