"""What bench_ingest.py measures: bare ffmpeg and our ingest, recording main streams and decoding sub streams."""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import psutil

from config.settings import DetectConfig, IngestConfig
from ingest.frames import FrameReader
from ingest.proc import die_with_parent
from ingest.recorder import SegmentRecorder, SourceStatus
from storage.repo.cameras import CameraSource

TS_PACKET = 188
# ffmpeg's MPEG-TS muxer gives the first mapped stream PID 0x100 (-mpegts_start_pid); both recorders map only 0:v:0
VIDEO_PID = 0x100
STOP_TIMEOUT_S = 5.0
CONSUMER_SWEEP_S = 0.05  # 5 fps x 8-frame queues: a sweep every 50 ms never lets a queue fill
STATS_FRAME = re.compile(rb"frame=\s*(\d+)")


class Phase(Protocol):
    """One measured configuration: N processes or objects working on N streams of the simulator."""

    label: str
    counts_own_process: bool  # True: this Python process's CPU is part of the figure (our threads live here)

    def start(self) -> None: ...
    def ready(self) -> bool: ...
    def pids(self) -> list[int]: ...  # external processes whose CPU belongs to this phase
    def progress(self) -> list[Any]: ...  # per stream, whatever frames_between() needs
    def frames_between(self, before: list[Any], after: list[Any]) -> list[int]: ...
    def detail(self, before: list[Any], after: list[Any], seconds: float) -> str: ...
    def stop(self) -> None: ...


# --- counting recorded frames --------------------------------------------------------------------------------------


def ts_sizes(directory: Path) -> dict[str, int]:
    try:
        return {e.name: e.stat().st_size for e in os.scandir(directory) if e.name.endswith(".ts")}
    except FileNotFoundError:
        return {}


def video_frames_in(path: Path, lo: int, hi: int) -> int:
    """Video PES packets (one per frame in ffmpeg's muxer) whose first TS packet starts in bytes [lo, hi) of a file."""
    first = -(-lo // TS_PACKET) * TS_PACKET
    if hi <= first:
        return 0
    with open(path, "rb") as fh:
        fh.seek(first)
        data = fh.read(hi - first)
    count = 0
    for off in range(0, len(data) - 3, TS_PACKET):
        if data[off] == 0x47 and data[off + 1] & 0x40 and ((data[off + 1] & 0x1F) << 8 | data[off + 2]) == VIDEO_PID:
            count += 1
    return count


def frames_written(directory: Path, before: dict[str, int], after: dict[str, int]) -> int:
    """Frames whose bytes reached the disk between two size snapshots: the same count for ours and for bare ffmpeg."""
    return sum(video_frames_in(directory / name, before.get(name, 0), size) for name, size in after.items())


def bytes_written(before: dict[str, int], after: dict[str, int]) -> int:
    return sum(size - before.get(name, 0) for name, size in after.items())


# --- bare ffmpeg -----------------------------------------------------------------------------------------------------


class FfmpegGroup:
    """Reference ffmpeg processes, each in its own process group; frame counts read from ffmpeg's default stats."""

    def __init__(self, commands: list[list[str]]) -> None:
        self.commands = commands
        self.procs: list[subprocess.Popen[bytes]] = []
        self.frames: list[int] = [0] * len(commands)
        self.errors: list[collections.deque[str]] = [collections.deque(maxlen=5) for _ in commands]
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        env = dict(os.environ, TZ="UTC")  # segment names in UTC, as the recorder's
        for i, cmd in enumerate(self.commands):
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    env=env, start_new_session=True, preexec_fn=die_with_parent)
            self.procs.append(proc)
            thread = threading.Thread(target=self._read_stats, args=(i, proc), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _read_stats(self, i: int, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        fd = proc.stderr.fileno()
        pending = b""
        while chunk := os.read(fd, 4096):
            *lines, pending = re.split(rb"[\r\n]", pending + chunk)
            for line in lines:
                if match := STATS_FRAME.search(line):
                    self.frames[i] = int(match.group(1))
                elif line.strip():
                    self.errors[i].append(line.decode(errors="replace").strip())

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
        for thread in self._threads:
            thread.join(timeout=2)
        for proc in self.procs:
            if proc.stderr is not None:
                proc.stderr.close()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


class ReferenceRecord:
    label = "record, bare ffmpeg"
    counts_own_process = False

    def __init__(self, main_urls: list[str], root: Path, segment_seconds: int) -> None:
        self.dirs = [root / f"cam{i:02d}" for i in range(1, len(main_urls) + 1)]
        self.group = FfmpegGroup([
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
             "-rtsp_transport", "tcp", "-i", url, "-map", "0:v:0", "-c", "copy",
             "-f", "segment", "-segment_time", str(segment_seconds), "-segment_format", "mpegts",
             "-reset_timestamps", "1", "-strftime", "1", str(d / "%Y%m%dT%H%M%SZ.ts")]
            for url, d in zip(main_urls, self.dirs)
        ])  # fmt: skip

    def start(self) -> None:
        for d in self.dirs:
            d.mkdir(parents=True, exist_ok=True)
        self.group.start()

    def ready(self) -> bool:
        return all(bytes_written({}, ts_sizes(d)) > 0 for d in self.dirs)

    def pids(self) -> list[int]:
        return [p.pid for p in self.group.procs if p.poll() is None]

    def progress(self) -> list[Any]:
        return [ts_sizes(d) for d in self.dirs]

    def frames_between(self, before: list[Any], after: list[Any]) -> list[int]:
        return [frames_written(d, b, a) for d, b, a in zip(self.dirs, before, after)]

    def detail(self, before: list[Any], after: list[Any], seconds: float) -> str:
        return _recorded_rate(before, after, seconds) + _errors(self.group)

    def stop(self) -> None:
        self.group.stop()


class ReferenceDecode:
    label = "decode, bare ffmpeg"
    counts_own_process = False

    def __init__(self, sub_urls: list[str]) -> None:
        self.group = FfmpegGroup([
            # -stats: with -loglevel error ffmpeg prints its frame counter only when asked explicitly
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-stats",
             "-rtsp_transport", "tcp", "-i", url, "-an", "-f", "null", "-"]
            for url in sub_urls
        ])  # fmt: skip

    def start(self) -> None:
        self.group.start()

    def ready(self) -> bool:
        return all(self.group.frames)

    def pids(self) -> list[int]:
        return [p.pid for p in self.group.procs if p.poll() is None]

    def progress(self) -> list[Any]:
        return list(self.group.frames)

    def frames_between(self, before: list[Any], after: list[Any]) -> list[int]:
        return [a - b for b, a in zip(before, after)]

    def detail(self, before: list[Any], after: list[Any], seconds: float) -> str:
        return _errors(self.group)

    def stop(self) -> None:
        self.group.stop()


def _recorded_rate(before: list[dict[str, int]], after: list[dict[str, int]], seconds: float) -> str:
    rates = sorted(bytes_written(b, a) / seconds / 1000 for b, a in zip(before, after))
    return f"written {rates[len(rates) // 2]:.0f} kB/s per stream (min {rates[0]:.0f})"


def _errors(group: FfmpegGroup) -> str:
    lines = [f"#{i + 1}: {e[-1]}" for i, e in enumerate(group.errors) if e]
    return f"; ffmpeg said: {' | '.join(lines[:3])}" if lines else ""


# --- ours ------------------------------------------------------------------------------------------------------------


def camera_sources(main_urls: list[str], sub_urls: list[str]) -> list[CameraSource]:
    return [CameraSource(camera_id=i, code=f"cam{i:02d}", record_url=m, detect_url=s)
            for i, (m, s) in enumerate(zip(main_urls, sub_urls), start=1)]  # fmt: skip


class OurRecord:
    label = "record, ours"
    counts_own_process = True

    def __init__(self, sources: list[CameraSource], config: IngestConfig, exclude_pids: set[int]) -> None:
        self.last: dict[int, SourceStatus] = {}
        self.recorders = [SegmentRecorder(s, spool_dir=config.spool_dir, config=config, on_status=self._on_status)
                          for s in sources]  # fmt: skip
        self._exclude = exclude_pids  # the simulator server is our child too

    def _on_status(self, report: SourceStatus) -> None:
        self.last[report.camera_id] = report  # the supervisor does this plus a DB write on changes only

    def start(self) -> None:
        for recorder in self.recorders:
            recorder.start()

    def ready(self) -> bool:
        return all(self._status(r) == "online" for r in self.recorders)

    def _status(self, recorder: SegmentRecorder) -> str:
        report = self.last.get(recorder.source.camera_id)
        return report.status if report is not None else "not started"

    def pids(self) -> list[int]:
        # the recorders' ffmpeg processes: our children, less the simulator
        return [c.pid for c in psutil.Process().children() if c.pid not in self._exclude]

    def progress(self) -> list[Any]:
        return [ts_sizes(r.out_dir) for r in self.recorders]

    def frames_between(self, before: list[Any], after: list[Any]) -> list[int]:
        return [frames_written(r.out_dir, b, a) for r, b, a in zip(self.recorders, before, after)]

    def detail(self, before: list[Any], after: list[Any], seconds: float) -> str:
        offline = [f"{r.source.code}: {self._status(r)}" for r in self.recorders if self._status(r) != "online"]
        return _recorded_rate(before, after, seconds) + (f"; not online: {offline}" if offline else "")

    def stop(self) -> None:
        _stop_all(self.recorders)


class OurDecode:
    label = "decode, ours"
    counts_own_process = True

    def __init__(self, sources: list[CameraSource], ingest: IngestConfig, detect: DetectConfig) -> None:
        self.readers = [FrameReader(s, ingest=ingest, detect=detect) for s in sources]
        self.taken = [0] * len(sources)
        self.consumer_cpu = 0.0  # the consumer thread's own CPU seconds, so its share can be shown
        self._stop = threading.Event()
        self._consumer = threading.Thread(target=self._consume, name="bench-consumer", daemon=True)

    def _consume(self) -> None:
        # stands in for detection: takes every frame handed on, so the readers' queues never drop
        while not self._stop.is_set():
            for k, reader in enumerate(self.readers):
                while reader.get(timeout=0) is not None:
                    self.taken[k] += 1
            self.consumer_cpu = time.thread_time()
            self._stop.wait(CONSUMER_SWEEP_S)

    def start(self) -> None:
        for reader in self.readers:
            reader.start()
        self._consumer.start()

    def ready(self) -> bool:
        return all(r.decoded for r in self.readers)

    def pids(self) -> list[int]:
        return []

    def progress(self) -> list[Any]:
        return [(r.decoded, self.taken[k], r.dropped, self.consumer_cpu) for k, r in enumerate(self.readers)]

    def frames_between(self, before: list[Any], after: list[Any]) -> list[int]:
        return [a[0] - b[0] for b, a in zip(before, after)]

    def detail(self, before: list[Any], after: list[Any], seconds: float) -> str:
        handed = sorted((a[1] - b[1]) / seconds for b, a in zip(before, after))
        dropped = sum(a[2] - b[2] for b, a in zip(before, after))
        consumer = after[0][3] - before[0][3]
        return (f"handed on {handed[len(handed) // 2]:.1f} frames/s per stream (min {handed[0]:.1f}), "
                f"{dropped} dropped; bench consumer thread {100 * consumer / seconds:.2f}% core (counted in ours)")

    def stop(self) -> None:
        self._stop.set()
        _stop_all(self.readers)
        self._consumer.join(timeout=5)


def _stop_all(workers: list[SegmentRecorder] | list[FrameReader]) -> None:
    # all at once: one by one, 28 workers would each wait for their own ffmpeg or RTSP teardown
    with ThreadPoolExecutor(max_workers=len(workers)) as pool:
        list(pool.map(lambda worker: worker.stop(), workers))
