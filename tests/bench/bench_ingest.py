"""Benchmark: CPU of our recording and decoding per stream beside bare ffmpeg on the same simulated streams.

Run: .venv/bin/python tests/bench/bench_ingest.py [--seconds 30] [--sources 14 28]   (see tests/bench/README.md)
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import psutil

from config.settings import DetectConfig, IngestConfig
from ingest_phases import OurDecode, OurRecord, Phase, ReferenceDecode, ReferenceRecord, camera_sources
from matthan.simulator import scene
from matthan.simulator.runner import SimulatedCameras

MAIN_SIZE = (1280, 720)
SUB_SIZE = (640, 360)
FPS = 15
DETECT_FPS = 5.0
SEGMENT_SECONDS = 10
COMMUNE_CAMERAS = 14
RECORD_RATIO_TARGET = 1.20
COMMUNE_CORE_TARGET = 0.50
MIN_FPS_SHARE = 0.9  # a stream below 90% of its frame rate in the window makes the figures invalid
FRAME_SLACK = 5  # frames: ffmpeg writes in 32 KB chunks, so a window's edges can each miss a few recorded frames
READY_TIMEOUT_S = 30.0
DEFAULT_CACHE = Path.home() / ".cache" / "matthan-bench"
PHASES = ("ref_record", "our_record", "ref_decode", "our_decode")


@dataclass
class Snapshot:
    at: float
    ext_cpu: dict[int, float]  # pid -> user+system seconds of the phase's external processes
    own_cpu: float  # this process, all threads
    sim_cpu: float
    busy: float  # the whole machine, non-idle seconds
    progress: list[Any]


@dataclass
class Result:
    label: str
    streams: int
    seconds: float
    cpu_s: float  # what counts for the phase: its processes, plus this process for ours
    own_s: float
    sim_s: float
    other_s: float  # everything else the machine did meanwhile (not this process, its phase, or the simulator)
    fps: list[float]
    detail: str
    problems: list[str] = field(default_factory=list)

    def per_stream_pct(self) -> float:
        return 100 * self.cpu_s / self.seconds / self.streams

    def cores(self) -> float:
        return self.cpu_s / self.seconds


def cpu_of(pids: list[int] | set[int]) -> dict[int, float]:
    times: dict[int, float] = {}
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            times[pid] = t.user + t.system
        except psutil.NoSuchProcess:
            pass  # gone: shows up as a changed process set
    return times


def machine_busy() -> float:
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def snapshot(phase: Phase, sim_pids: set[int], *, progress_first: bool) -> Snapshot:
    # the frame counters are read outside the CPU window's edges, so reading them is not charged to ours
    progress = phase.progress() if progress_first else []
    own = psutil.Process().cpu_times()
    snap = Snapshot(time.monotonic(), cpu_of(phase.pids()), own.user + own.system, sum(cpu_of(sim_pids).values()),
                    machine_busy(), progress)  # fmt: skip
    if not progress_first:
        snap.progress = phase.progress()
    return snap


def measure(phase: Phase, streams: int, sim: SimulatedCameras, sim_pids: set[int], warmup: float,
            seconds: float) -> Result:  # fmt: skip
    print(f"  {phase.label}: starting {streams} ...", end="", flush=True)
    resyncs_before = sim_resyncs(sim)
    phase.start()
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not phase.ready() and time.monotonic() < deadline:
            time.sleep(0.2)
        problems = [] if phase.ready() else [f"not every stream was up after {READY_TIMEOUT_S:.0f} s"]
        time.sleep(warmup)
        before = snapshot(phase, sim_pids, progress_first=True)
        time.sleep(seconds)
        after = snapshot(phase, sim_pids, progress_first=False)
    finally:
        phase.stop()
    window = after.at - before.at
    common = before.ext_cpu.keys() & after.ext_cpu.keys()
    # ours decode has no external process; every other phase has one ffmpeg per stream, the same ones throughout
    if before.ext_cpu.keys() != after.ext_cpu.keys() or len(common) not in (0, streams):
        problems.append(f"processes came or went in the window ({len(before.ext_cpu)} -> {len(after.ext_cpu)}): "
                        "a restart, whose CPU is not counted")
    ext = sum(after.ext_cpu[p] - before.ext_cpu[p] for p in common)
    own = after.own_cpu - before.own_cpu
    sim_s = after.sim_cpu - before.sim_cpu
    frames = phase.frames_between(before.progress, after.progress)
    fps = [f / window for f in frames]
    least = MIN_FPS_SHARE * FPS * window - FRAME_SLACK
    slow = [f"#{i + 1}: {f / window:.1f}" for i, f in enumerate(frames) if f < least]
    if slow:
        problems.append(f"streams below {MIN_FPS_SHARE * FPS:.1f} frames/s: {', '.join(slow[:6])}")
    resyncs = sim_resyncs(sim) - resyncs_before
    if resyncs:
        problems.append(f"the simulator fell behind {resyncs} times (frames skipped at its end)")
    result = Result(phase.label, streams, window, ext + (own if phase.counts_own_process else 0.0), own,
                    sim_s, max(0.0, after.busy - before.busy - ext - own - sim_s), fps,
                    phase.detail(before.progress, after.progress, window), problems)  # fmt: skip
    print(f" {result.per_stream_pct():.2f}% core/stream, {min(fps):.1f}-{max(fps):.1f} frames/s")
    return result


def sim_resyncs(sim: SimulatedCameras) -> int:
    try:
        return sim.log_path.read_text(errors="replace").count("resyncing at a keyframe")
    except OSError:
        return 0


def bench(n: int, args: argparse.Namespace, root: Path) -> tuple[dict[str, list[Result]], float]:
    scenes = min(n, 4)
    print(f"sources={n}: preparing footage ({scenes} scenes, {MAIN_SIZE[0]}x{MAIN_SIZE[1]} main, "
          f"{SUB_SIZE[0]}x{SUB_SIZE[1]} sub, {FPS} fps) and the RTSP server", flush=True)
    results: dict[str, list[Result]] = {key: [] for key in PHASES}
    with SimulatedCameras(args.cache / "footage", count=n, main_size=MAIN_SIZE, sub_size=SUB_SIZE, fps=FPS,
                          scenes=scenes) as sim:  # fmt: skip
        sim_pids = {c.pid for c in psutil.Process().children(recursive=True)}
        mains = [sim.main_url(i) for i in range(1, n + 1)]
        subs = [sim.sub_url(i) for i in range(1, n + 1)]
        sources = camera_sources(mains, subs)
        detect = DetectConfig(fps=DETECT_FPS)
        for round_no in range(1, args.rounds + 1):
            work = root / f"n{n}-r{round_no}"
            ingest = IngestConfig(spool_dir=work / "spool", segment_seconds=SEGMENT_SECONDS)
            if args.rounds > 1:
                print(f" round {round_no}/{args.rounds}")
            phases: dict[str, Phase] = {  # fresh objects each round: workers start only once
                "ref_record": ReferenceRecord(mains, work / "ref", SEGMENT_SECONDS),
                "our_record": OurRecord(sources, ingest, exclude_pids=sim_pids),
                "ref_decode": ReferenceDecode(subs),
                "our_decode": OurDecode(sources, ingest, detect),
            }
            for key in PHASES:  # one after another: on two cores, concurrent phases would skew each other
                results[key].append(measure(phases[key], n, sim, sim_pids, args.warmup, args.seconds))
                time.sleep(1.0)  # let the server tear the previous sessions down
            shutil.rmtree(work, ignore_errors=True)
    return results, expected_rate(args.cache / "footage", scenes)


def pooled(rounds: list[Result]) -> Result:
    """All rounds of one phase as one long window: CPU and time summed, every stream's rate kept."""
    return Result(rounds[0].label, rounds[0].streams, sum(r.seconds for r in rounds), sum(r.cpu_s for r in rounds),
                  sum(r.own_s for r in rounds), sum(r.sim_s for r in rounds), sum(r.other_s for r in rounds),
                  [f for r in rounds for f in r.fps], rounds[-1].detail, [p for r in rounds for p in r.problems])


def ratio(ours: Result, ref: Result) -> float:
    return ours.cpu_s / ref.cpu_s if ref.cpu_s > 0 else float("inf")


def expected_rate(cache: Path, scenes: int) -> float:
    """Mean byte rate of the main footage the server loops (kB/s), to compare with what the recorders wrote."""
    from matthan.simulator.footage import generate_footage  # cached already: this only returns the paths

    sizes = [generate_footage(cache, camera_index=i, width=MAIN_SIZE[0], height=MAIN_SIZE[1], fps=FPS).stat().st_size
             for i in range(1, scenes + 1)]  # fmt: skip
    return sum(sizes) / len(sizes) / scene.CYCLE_SECONDS / 1000


def report(n: int, rounds: dict[str, list[Result]], expected_kbps: float, verdicts: list[str]) -> None:
    rr, orr, rd, od = (pooled(rounds[key]) for key in PHASES)
    rec_ratio, dec_ratio = ratio(orr, rr), ratio(od, rd)
    total = orr.cores() + od.cores()
    per_commune = total * COMMUNE_CAMERAS / n
    ncpu = psutil.cpu_count() or 1
    print()
    count = len(rounds["our_record"])
    window = f"{orr.seconds:.0f}s" if count == 1 else f"{orr.seconds / count:.0f}s x {count} rounds"
    # each process's CPU is read in clock ticks; the N rounding errors mostly cancel, about sqrt(N) ticks remain
    tick = 1 / os.sysconf("SC_CLK_TCK")
    resolution = 100 * tick * n**0.5 / orr.seconds / n
    print(f"sources={n}  window={window}  ({ncpu} cores; % core/stream = 100 x CPU s / window s / sources; "
          f"resolution about ±{resolution:.3f})")
    print(f"{'':28}{'ours':>10}    {'reference (ffmpeg)':<20}{'ratio':>7}   target")
    print(f"{'record  % core/stream':28}{orr.per_stream_pct():>10.3f}    {rr.per_stream_pct():<20.3f}"
          f"{rec_ratio:>7.2f}   ≤ {RECORD_RATIO_TARGET:.2f}")
    print(f"{'  of which python threads':28}{100 * orr.own_s / orr.seconds / n:>10.3f}")
    if count > 1:
        each = ", ".join(f"{ratio(o, r):.2f}" for o, r in zip(rounds["our_record"], rounds["ref_record"]))
        print(f"{'  record ratio per round':28}{'':>10}    {'':20}{each}")
    print(f"{'decode  % core/stream':28}{od.per_stream_pct():>10.3f}    {rd.per_stream_pct():<20.3f}"
          f"{dec_ratio:>7.2f}   (ref)")
    print(f"{'commune total (rec+dec)':28}{total:>10.3f} core for {n}; {per_commune:.3f} per {COMMUNE_CAMERAS} "
          f"cameras        ≤ {COMMUNE_CORE_TARGET:.2f}")
    print("checks (frames/s per stream in the window, min / median):")
    for res in (rr, orr, rd, od):
        fps = sorted(res.fps)
        print(f"  {res.label:21} {fps[0]:5.1f} / {fps[len(fps) // 2]:5.1f}   {res.detail}")
    print(f"  footage main stream: {expected_kbps:.0f} kB/s on average over its {scene.CYCLE_SECONDS} s loop")
    print("  simulator server (not ours), cores: " + ", ".join(f"{x.label} {x.sim_s / x.seconds:.2f}"
                                                             for x in (rr, orr, rd, od)))  # fmt: skip
    # whatever else ran meanwhile (other jobs on the machine) competes for the same cores and caches
    print(f"  other load on the machine, cores of {ncpu}: " + ", ".join(f"{x.label} {x.other_s / x.seconds:.2f}"
                                                                      for x in (rr, orr, rd, od)))  # fmt: skip
    invalid = [f"{x.label}: {p}" for x in (rr, orr, rd, od) for p in x.problems]
    for line in invalid:
        print(f"  INVALID {line}")
    tag = "INVALID" if invalid else None
    verdicts.append(f"{tag or ('PASS' if rec_ratio <= RECORD_RATIO_TARGET else 'FAIL')}  sources={n}: recording "
                    f"{rec_ratio:.2f}x bare ffmpeg (target ≤ {RECORD_RATIO_TARGET:.2f}x)")
    verdicts.append(f"{tag or ('PASS' if per_commune <= COMMUNE_CORE_TARGET else 'FAIL')}  sources={n}: "
                    f"recording + decoding {per_commune:.3f} core per {COMMUNE_CAMERAS}-camera commune "
                    f"(target ≤ {COMMUNE_CORE_TARGET:.2f})")


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds through every finally: processes get stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window per phase (default 30)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds after every stream is up (default 5)")
    parser.add_argument("--sources", type=int, nargs="+", default=[14, 28], help="camera counts (default 14 28)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat the four phases, interleaved, and pool them (default 1; 3 on a busy machine)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"footage cache (default {DEFAULT_CACHE})")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.seconds <= 0 or min(args.sources) < 1:
        parser.error("--rounds, --seconds and --sources must be positive")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # SIGINT too: a shell starting us in the background without job control leaves it ignored
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    if shutil.which("ffmpeg") is None:
        print("ffmpeg not found: apt-get install ffmpeg", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="matthan-bench-"))
    verdicts: list[str] = []
    started = time.monotonic()
    try:
        for n in args.sources:
            report(n, *bench(n, args, root), verdicts)
    except KeyboardInterrupt:
        print("\ninterrupted: everything started has been stopped", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return finish(verdicts, started)


def finish(verdicts: list[str], started: float) -> int:
    """Print the verdicts; exit 2 if any run was INVALID, 1 if any target was missed, else 0."""
    print()
    for line in verdicts:
        print(line)
    print(f"(ran {time.monotonic() - started:.0f} s; pid {os.getpid()})")
    if any(v.startswith("INVALID") for v in verdicts):
        return 2
    return 0 if all(v.startswith("PASS") for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
