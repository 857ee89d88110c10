"""SegmentRecorder: one ffmpeg stream-copy process per camera writing MPEG-TS segments into the spool."""

from __future__ import annotations

import collections
import logging
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from config.inventory import mask_url
from config.settings import IngestConfig
from ingest.errors import SourceError, SourceUnreachable, classify
from ingest.proc import die_with_parent
from ingest.segments import RunTimeline
from storage.repo.cameras import CameraSource

logger = logging.getLogger(__name__)

SEGMENT_PATTERN = "%Y%m%dT%H%M%SZ.ts"  # wall-clock UTC at segment open (ffmpeg runs with TZ=UTC)
STABLE_ONLINE_S = 10.0  # a source must stay up this long before its restart backoff resets
FPS_WINDOW_S = 10.0  # frames per second are counted over this much wall time (progress comes every 2 s)
BURST_S = 0.5  # output time running this far ahead of wall time between two reports: frames buffered earlier


@dataclass(frozen=True)
class SourceStatus:
    """A health report from a recorder or frame reader."""

    camera_id: int
    status: str  # connecting | online | offline | auth_failed | unsupported_stream
    detail: str = ""
    fps: float | None = None
    bitrate_kbps: float | None = None


StatusCallback = Callable[[SourceStatus], None]


class FrameRate:
    """Frames per second as received: frame-count deltas over wall time across the last FPS_WINDOW_S of reports.

    ffmpeg's own progress `fps=` is every frame written since its output opened over the seconds since then: a
    whole-run average (a camera that drops to 5 fps after a day still shows ~15 for hours), and frames that waited
    in a buffer (probing, a network stall) count against the moment they were written: a 15 fps camera read 29
    at first and 17.7 after 12 s. The window restarts after such a burst, so it holds only frames as they came; it
    starts at the second report, as the first one comes when the output opens, before the frames that waited
    while ffmpeg connected are written."""

    def __init__(self) -> None:
        self._samples: collections.deque[tuple[float, int]] = collections.deque()  # (monotonic s, frames)
        self._last_out: float | None = None
        self._fps: float | None = None
        self._reports = 0

    def add(self, *, frames: int, out_time_s: float | None, at: float) -> float | None:
        """One progress report; returns the frame rate over the window (the last one while the window is shorter
        than a second, None before there was one)."""
        self._reports += 1
        if self._reports == 2:
            self._samples.clear()
        elif self._samples and self._last_out is not None and out_time_s is not None:
            wall = at - self._samples[-1][0]
            if out_time_s - self._last_out > wall + BURST_S:
                self._samples.clear()  # the frames since the last report came in a burst: start the window here
        self._last_out = out_time_s
        self._samples.append((at, frames))
        while len(self._samples) > 2 and at - self._samples[1][0] >= FPS_WINDOW_S:
            self._samples.popleft()
        (first_at, first), (last_at, last) = self._samples[0], self._samples[-1]
        if last_at - first_at >= 1.0:
            self._fps = round((last - first) / (last_at - first_at), 2)
        return self._fps


def ffmpeg_record_command(source: CameraSource, *, out_dir: Path, segment_list: Path, config: IngestConfig) -> list[str]:
    return [
        config.ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
        "-rtsp_transport", config.rtsp_transport,
        "-timeout", str(int(config.connect_timeout_s * 1_000_000)),
        # No frame-rate estimate (a stream copy needs none): ffmpeg otherwise reads ~20 frames (1.5 s at 15 fps)
        # before writing any, then writes them at once, and a 2 s first segment could close within the second it
        # opened in; its strftime name then came again and ffmpeg overwrote it with the next segment.
        "-fpsprobesize", "0",
        "-i", source.record_url,
        # Video only: G.711 audio from cameras cannot be stream-copied into MPEG-TS.
        "-map", "0:v:0", "-c", "copy",
        "-f", "segment", "-segment_time", str(config.segment_seconds), "-segment_format", "mpegts",
        # Every packet goes to the file as it arrives: ffmpeg does not always close a segment cleanly when its
        # worker dies (seen: "Immediate exit requested" while ending it), and its 32 KB buffer would go with it.
        "-segment_format_options", "flush_packets=1",
        "-reset_timestamps", "1", "-strftime", "1",
        "-segment_list", str(segment_list), "-segment_list_type", "csv",
        # progress every 2 s: health is saved every 10 s, and each report costs Python time per camera
        "-progress", "pipe:1", "-stats_period", "2",
        str(out_dir / SEGMENT_PATTERN),
    ]


class SegmentRecorder:
    """Keeps ffmpeg recording one camera: restarts it with capped exponential backoff and reports health."""

    def __init__(self, source: CameraSource, *, spool_dir: Path, config: IngestConfig, on_status: StatusCallback):
        self.source = source
        self.out_dir = spool_dir / source.code
        self.config = config
        self._on_status = on_status
        self._stop = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name=f"record-{source.code}", daemon=True)
        self._last_status: str | None = None

    def start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # ffmpeg closes the current segment cleanly on SIGTERM
        self._thread.join(timeout)

    @property
    def recording(self) -> bool:
        """True while ffmpeg runs; the uploader leaves the newest spool file alone while this holds."""
        proc = self._proc
        return proc is not None and proc.poll() is None

    def _report(self, status: str, detail: str = "", **figures: float | None) -> None:
        self._last_status = status
        self._on_status(SourceStatus(self.source.camera_id, status, detail, **figures))

    def _run(self) -> None:
        backoff = self.config.restart_backoff_s
        while not self._stop.is_set():
            started = time.monotonic()
            error = self._record_once()
            if self._stop.is_set():
                break
            if time.monotonic() - started > STABLE_ONLINE_S:
                backoff = self.config.restart_backoff_s
            previous = self._last_status
            self._report(error.status, str(error))
            level = logging.WARNING if previous != error.status else logging.DEBUG
            logger.log(level, "camera %s (%s): %s; retrying in %.0f s", self.source.code,
                       mask_url(self.source.record_url), error, backoff)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.config.restart_backoff_max_s)

    def _record_once(self) -> SourceError:
        # one segment list per run: the stream-time origin differs between runs
        timeline = RunTimeline(self.out_dir / f".run-{time.time_ns()}.csv")
        cmd = ffmpeg_record_command(self.source, out_dir=self.out_dir, segment_list=timeline.list_path,
                                    config=self.config)
        env = dict(os.environ, TZ="UTC")
        if self._last_status is None:
            self._report("connecting")
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                    env=env, start_new_session=True,
                                    preexec_fn=die_with_parent)
        except OSError as exc:
            return SourceUnreachable(f"cannot start {self.config.ffmpeg}: {exc.strerror}; install ffmpeg")
        self._proc = proc
        stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        drain = threading.Thread(target=_drain, args=(proc, stderr_tail), daemon=True)
        drain.start()
        frames = self._follow_progress(proc, timeline)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        timeline.finish()  # the last segment is listed when ffmpeg closes it on exit
        drain.join(timeout=5)
        text = mask_url(" | ".join(line for line in stderr_tail if line))
        if frames == 0 and text:
            return classify(text)(text)
        return SourceUnreachable(f"stream stopped after {frames} frames (ffmpeg exit {proc.returncode}) {text}".strip())

    def _follow_progress(self, proc: subprocess.Popen[bytes], timeline: RunTimeline) -> int:
        """Read ffmpeg's -progress blocks; report online/fps/bitrate; kill ffmpeg if the stream stalls."""
        assert proc.stdout is not None
        stall_limit = max(2 * self.config.connect_timeout_s, 5.0)
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        block: dict[str, str] = {}
        frames = 0
        rate = FrameRate()
        last_advance = time.monotonic()
        buffer = b""
        try:
            while True:
                if not selector.select(timeout=1.0):
                    if time.monotonic() - last_advance > stall_limit or self._stop.is_set():
                        if not self._stop.is_set():
                            logger.warning("camera %s: no frames for %.0f s; restarting ffmpeg",
                                           self.source.code, stall_limit)
                        proc.terminate()
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    return frames
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for raw in lines:
                    key, _, value = raw.decode(errors="replace").strip().partition("=")
                    block[key] = value
                    if key != "progress":
                        continue
                    count = int(block.get("frame", "0") or 0)
                    out_us = block.get("out_time_us", "")
                    out_s = int(out_us) / 1e6 if out_us.lstrip("-").isdigit() else None
                    if count and out_s is not None:
                        timeline.observe(out_s, time.time())
                        timeline.flush()
                    if count > frames:
                        frames = count
                        last_advance = time.monotonic()
                        self._report("online", "", fps=rate.add(frames=count, out_time_s=out_s, at=last_advance),
                                     bitrate_kbps=_float(block.get("bitrate", "").removesuffix("kbits/s")))
                    elif time.monotonic() - last_advance > stall_limit:
                        proc.terminate()
                    block = {}
        finally:
            selector.close()


def _drain(proc: subprocess.Popen[bytes], tail: collections.deque[str]) -> None:
    assert proc.stderr is not None
    for raw in proc.stderr:
        tail.append(raw.decode(errors="replace").strip())


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "", "N/A") else None
    except ValueError:
        return None
