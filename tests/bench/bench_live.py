"""Live view CPU: the web server passing 14 cameras' sub streams through to 3 WebRTC viewers each, beside 1 viewer each.

The server is the real app (`python -m matthan web`, uvicorn) in its own process; the viewers are aiortc peer
connections in another process (live_viewers.py), so only the server's CPU is counted. Target: going from 1 to 3
viewers per camera adds at most 10 % to the server's CPU (the cameras are pulled once however many watch). Beside it,
the reference: the least any server pays on this machine for the extra viewers' packets (live_floor.py: sending and
SRTP crypto only, at the packet rate and size measured).

    .venv/bin/python tests/bench/bench_live.py [--cameras 14] [--seconds 30] [--warmup 5] [--rounds 1] [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: tests.* helpers

from matthan.simulator.runner import SimulatedCameras  # noqa: E402
from tests.review_ui.live_web import PASSWORD, WebProcess, live_web  # noqa: E402

MAIN_SIZE, SUB_SIZE, FPS = (1280, 720), (640, 360), 15  # as bench_ingest.py (footage shared)
DEFAULT_CACHE = Path.home() / ".cache" / "matthan-bench"
VIEWERS = (1, 3)
TARGET = 1.10  # CPU with 3 viewers per camera / CPU with 1
MIN_FPS_SHARE = 0.9
FRAME_SLACK = 3  # frames in flight at the window's edges
VIEWERS_SCRIPT = Path(__file__).with_name("live_viewers.py")
FLOOR_SCRIPT = Path(__file__).with_name("live_floor.py")
WIRE_OVERHEAD = 12 + 12 + 10  # per packet beyond the H.264 payload: RTP header, mid + abs-send-time, SRTP tag


@dataclass
class Window:
    viewers_per_camera: int
    seconds: float
    server_s: float
    viewers_s: float
    sim_s: float
    other_s: float
    fps: list[float]
    kbytes_per_s: float  # H.264 received per viewer, mean
    problems: list[str] = field(default_factory=list)
    server_sys_s: float = 0.0  # of server_s, in the kernel
    packets_per_viewer_s: float = 0.0  # RTP packets the server sent per viewer per second

    @property
    def cores(self) -> float:
        return self.server_s / self.seconds


def cpu(pid: int, *, children: bool = False) -> float:
    proc = psutil.Process(pid)
    procs = [proc, *proc.children(recursive=True)] if children else [proc]
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def system_time(pid: int) -> float:
    return psutil.Process(pid).cpu_times().system


def busy() -> float:
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def status(web: WebProcess) -> dict[str, object]:
    client = web.client()
    try:
        return client.get("/api/live/status").json()
    finally:
        client.close()


def wait_no_pulls(web: WebProcess, timeout: float = 60.0) -> None:
    """Between phases: every viewer gone and every pull closed (grace period), so a phase starts from nothing."""
    deadline = time.monotonic() + timeout
    while status(web)["streams"] or status(web)["peers"]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server still pulls after {timeout:.0f} s: {status(web)}")
        time.sleep(1.0)


def measure(web: WebProcess, cameras: list[str], per_camera: int, sim_pid: int, args: argparse.Namespace) -> Window:
    print(f"  {per_camera} viewer(s) x {len(cameras)} cameras: connecting ...", end="", flush=True)
    wait_no_pulls(web)
    pulls_before = dict(status(web)["pulls_opened"])  # type: ignore[arg-type]
    viewers = subprocess.Popen(
        [*args.viewer_pin, "nice", "-n", "10", sys.executable, str(VIEWERS_SCRIPT), "--url", web.url, "--username", "truc-ban",
         "--password", PASSWORD, "--per-camera", str(per_camera), *cameras],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert viewers.stdin is not None and viewers.stdout is not None
    problems: list[str] = []
    try:
        ready = viewers.stdout.readline().strip()
        if not ready.startswith("READY"):
            raise RuntimeError(f"viewers did not start: {ready!r}")
        time.sleep(args.warmup)

        def mark() -> list[list[int]]:
            viewers.stdin.write("MARK\n")  # type: ignore[union-attr]
            viewers.stdin.flush()  # type: ignore[union-attr]
            return json.loads(viewers.stdout.readline())  # type: ignore[union-attr]

        frames0 = mark()
        sent0 = sum(st["rtp_sent"] for st in status(web)["streams"])  # type: ignore[union-attr]
        start = (time.monotonic(), cpu(web.proc.pid), cpu(viewers.pid, children=True), cpu(sim_pid, children=True),
                 busy(), system_time(web.proc.pid))  # fmt: skip
        time.sleep(args.seconds)
        end = (time.monotonic(), cpu(web.proc.pid), cpu(viewers.pid, children=True), cpu(sim_pid, children=True),
               busy(), system_time(web.proc.pid))  # fmt: skip
        frames1 = mark()
        state = status(web)
        viewers.stdin.write("STOP\n")
        viewers.stdin.flush()
        viewers.wait(timeout=30)
    finally:
        if viewers.poll() is None:
            viewers.kill()
            viewers.wait()
    seconds = end[0] - start[0]
    server_s, viewers_s, sim_s = end[1] - start[1], end[2] - start[2], end[3] - start[3]
    fps = [(b[0] - a[0]) / seconds for a, b in zip(frames0, frames1)]
    rate = sum(b[1] - a[1] for a, b in zip(frames0, frames1)) / max(1, len(frames1)) / seconds / 1000
    least = MIN_FPS_SHARE * FPS - FRAME_SLACK / seconds
    slow = [f"#{i + 1}: {f:.1f}" for i, f in enumerate(fps) if f < least]
    if slow:
        problems.append(f"viewers below {MIN_FPS_SHARE * FPS:.1f} frames/s: {', '.join(slow[:6])}")
    if len(fps) != per_camera * len(cameras):
        problems.append(f"{len(fps)} viewers counted, {per_camera * len(cameras)} expected")
    opened = {k: v - pulls_before.get(k, 0) for k, v in state["pulls_opened"].items()}  # type: ignore[union-attr]
    if sorted(k for k, v in opened.items() if v) != sorted(f"{c}/sub" for c in cameras) or any(v > 1 for v in opened.values()):
        problems.append(f"pulls opened in the phase are not one per camera: {opened}")
    window = Window(per_camera, seconds, server_s, viewers_s, sim_s, max(0.0, end[4] - start[4] - server_s - viewers_s
                                                                           - sim_s), fps, rate, problems,
                    end[5] - start[5])  # fmt: skip
    streams = state["streams"]  # type: ignore[index]
    sent, resent, dropped = (sum(st[k] for st in streams) for k in ("rtp_sent", "rtp_resent", "rtp_dropped"))
    # counted over a little more than the window (the status calls' own time): a rate, near enough
    window.packets_per_viewer_s = (sent - sent0) / seconds / max(1, len(fps))
    print(f" server {100 * window.cores:.1f}% of a core, frames/s {min(fps):.1f}-{max(fps):.1f}; RTP packets sent "
          f"{sent}, resent {resent}, dropped {dropped}")
    return window


def pooled(windows: list[Window]) -> Window:
    return Window(windows[0].viewers_per_camera, sum(w.seconds for w in windows), sum(w.server_s for w in windows),
                  sum(w.viewers_s for w in windows), sum(w.sim_s for w in windows), sum(w.other_s for w in windows),
                  [f for w in windows for f in w.fps], sum(w.kbytes_per_s for w in windows) / len(windows),
                  [p for w in windows for p in w.problems], sum(w.server_sys_s for w in windows),
                  sum(w.packets_per_viewer_s for w in windows) / len(windows))  # fmt: skip


def floor(n: int, three: Window, args: argparse.Namespace) -> dict[str, float]:
    """live_floor.py for the 2 extra viewers per camera at the packet rate and size measured: the least any server
    pays here for their packets (kernel + SRTP crypto), the reference the server's added CPU is compared with."""
    pps = three.packets_per_viewer_s
    size = round(three.kbytes_per_s * 1000 / pps) + WIRE_OVERHEAD if pps else 1200
    out = subprocess.run([sys.executable, str(FLOOR_SCRIPT), "--viewers", str(2 * n), "--packets-per-s", f"{pps:.1f}",
                          "--size", str(size), "--seconds", str(args.seconds), "--fps", str(FPS),
                          "--sender-cpus", args.server_cpus, "--receiver-cpus", args.viewer_cpus],
                         capture_output=True, text=True, check=True, timeout=4 * args.seconds + 120)  # fmt: skip
    return {**json.loads(out.stdout), "pps": pps, "size": size}


def report(n: int, results: dict[int, list[Window]], idle_cores: float, least: dict[str, float]) -> str:
    one, three = pooled(results[1]), pooled(results[3])
    ratio = three.cores / one.cores if one.cores else float("inf")
    per_viewer = (three.cores - one.cores) / (n * 2)
    rounds = len(results[1])
    print()
    print(f"cameras={n}  sub stream {SUB_SIZE[0]}x{SUB_SIZE[1]}@{FPS}  window={one.seconds / rounds:.0f}s x {rounds} "
          f"round(s)  ({psutil.cpu_count()} cores)")
    print(f"{'':36}{'1 viewer/camera':>16}{'3 viewers/camera':>18}{'ratio':>8}   target")
    print(f"{'server CPU, % of one core':36}{100 * one.cores:>16.1f}{100 * three.cores:>18.1f}{ratio:>8.2f}   "
          f"≤ {TARGET:.2f}")
    print(f"{'  of which in the kernel':36}{100 * one.server_sys_s / one.seconds:>16.1f}"
          f"{100 * three.server_sys_s / three.seconds:>18.1f}")
    print(f"{'  per camera':36}{100 * one.cores / n:>16.2f}{100 * three.cores / n:>18.2f}")
    print(f"{'  each extra viewer (3 - 1) / 2N':36}{'':>16}{100 * per_viewer:>18.2f}   "
          f"({three.kbytes_per_s:.0f} kB/s of H.264 each)")
    print(f"{'added by the 2 extra viewers, cores':36}{'':>16}{three.cores - one.cores:>18.3f}")
    print(f"{'server idle (no viewer), %':36}{100 * idle_cores:>16.1f}")
    floor_cores = least["sending_gso"] + least["crypto"]
    print(f"reference: the least any server pays here for the 2 extra viewers/camera ({2 * n} viewers, "
          f"{least['pps']:.0f} packets/s each of {least['size']:.0f} B; live_floor.py):")
    print(f"{'  sending, a GSO sendmsg per viewer-frame':44}{100 * least['sending_gso']:>8.2f} % of a core   "
          f"(a sendto per packet: {100 * least['sending_sendto']:.2f} %)")
    print(f"{'  SRTP crypto in C (AES-CTR + HMAC-SHA1)':44}{100 * least['crypto']:>8.2f} %   "
          f"({least['crypto_us']:.2f} µs a packet)")
    print(f"{'  floor':44}{100 * floor_cores:>8.2f} %   → ratio ≥ {(one.cores + floor_cores) / one.cores:.2f}x for "
          f"any server with this 1-viewer CPU")
    print(f"{'  this server adds':44}{100 * (three.cores - one.cores):>8.2f} %   ({(three.cores - one.cores) / floor_cores:.1f}"
          f"x the floor)")
    print("checks:")
    for w in (one, three):
        fps = sorted(w.fps)
        print(f"  {w.viewers_per_camera} viewer(s): frames/s per viewer min {fps[0]:.1f} / median "
              f"{fps[len(fps) // 2]:.1f}; viewers process {100 * w.viewers_s / w.seconds:.0f}%, simulator "
              f"{100 * w.sim_s / w.seconds:.0f}%, other load {100 * w.other_s / w.seconds:.0f}% of a core")
    invalid = [p for w in (one, three) for p in w.problems]
    for line in invalid:
        print(f"  INVALID {line}")
    tag = "INVALID" if invalid else ("PASS" if ratio <= TARGET else "FAIL")
    return (f"{tag}  cameras={n}: server CPU with 3 viewers per camera is {ratio:.2f}x that with 1 "
            f"(target ≤ {TARGET:.2f}x)")


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, default=14)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window per phase (default 30)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds after every viewer has a frame")
    parser.add_argument("--rounds", type=int, default=1, help="repeat both phases, interleaved, and pool them")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"footage cache (default {DEFAULT_CACHE})")
    parser.add_argument("--no-pin", action="store_true",
                        help="let the server and the viewers share every CPU (default: server on CPU 0, viewers on "
                             "the others, as if they watched from other machines)")
    args = parser.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))
    pin = not args.no_pin and len(cpus) >= 2
    server_cpus = {cpus[0]} if pin else None
    args.server_cpus, args.viewer_cpus = (str(cpus[0]), ",".join(map(str, cpus[1:]))) if pin else ("", "")
    args.viewer_pin = ["taskset", "-c", args.viewer_cpus] if pin else []
    logging.basicConfig(level=logging.WARNING)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    started = time.monotonic()
    n = args.cameras
    tmp = Path(tempfile.mkdtemp(prefix="matthan-bench-live-"))
    try:
        print(f"cameras={n}: footage ({min(n, 4)} scenes) and the RTSP server; the web server", flush=True)
        with SimulatedCameras(args.cache / "footage", count=n, main_size=MAIN_SIZE, sub_size=SUB_SIZE, fps=FPS,
                              scenes=min(n, 4)) as sim:  # fmt: skip
            sim_pid = sim._proc.pid if sim._proc else os.getpid()  # noqa: SLF001 - its CPU is reported apart
            cameras = [{"code": f"cam-{i:02d}", "name": f"Camera {i}", "main_url": sim.main_url(i),
                        "sub_url": sim.sub_url(i)} for i in range(1, n + 1)]  # fmt: skip
            codes = [c["code"] for c in cameras]
            with live_web(tmp, cameras, statuses={c: ("online", "") for c in codes}, cpus=server_cpus) as web:
                print(f"server on CPU {cpus[0]}, viewers on CPU {','.join(map(str, cpus[1:]))}" if pin else
                      "server and viewers share every CPU (--no-pin)")
                time.sleep(2.0)
                before, at = cpu(web.proc.pid), time.monotonic()
                time.sleep(5.0)
                idle = (cpu(web.proc.pid) - before) / (time.monotonic() - at)
                results: dict[int, list[Window]] = {k: [] for k in VIEWERS}
                for round_no in range(1, args.rounds + 1):
                    if args.rounds > 1:
                        print(f" round {round_no}/{args.rounds}")
                    for k in VIEWERS:
                        results[k].append(measure(web, codes, k, sim_pid, args))
                verdict = report(n, results, idle, floor(n, pooled(results[3]), args))
                notes = [line for line in web.log.read_text(errors="replace").splitlines()
                         if "offload" in line or "fan-out" in line or "sending to" in line]  # fmt: skip
                for line in notes[:5]:
                    print(f"  web log: {line}")
    except KeyboardInterrupt:
        print("\ninterrupted: everything started has been stopped", file=sys.stderr)
        return 130
    finally:
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    print()
    print(verdict)
    print(f"(ran {time.monotonic() - started:.0f} s; pid {os.getpid()})")
    return 2 if verdict.startswith("INVALID") else 0 if verdict.startswith("PASS") else 1


if __name__ == "__main__":
    sys.exit(main())
