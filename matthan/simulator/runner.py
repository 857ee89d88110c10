"""Start and stop a set of simulated RTSP cameras (footage + server subprocess) for tests and the demo."""

from __future__ import annotations

import argparse
import json
import logging
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from matthan.simulator import scene
from matthan.simulator.footage import generate_footage

logger = logging.getLogger(__name__)

SYSTEM_PYTHON = "/usr/bin/python3"  # has gi + GstRtspServer; the venv does not
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
PASSWORD_ENV = "MATTHAN_SIM_RTSP_PASSWORD"  # passed by environment so it never shows in `ps`
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
AUDIO_ONLY_PATH = "/audio-only"


SWITCH_SECONDS = 3
COVER_AFTER_SECONDS = 12
COVER_SECONDS = 10


class SimulatorError(RuntimeError):
    """The simulated RTSP server could not be started."""


class SimulatedCameras:
    """`count` simulated cameras, each with /cam{i}/main and /cam{i}/sub, served on 127.0.0.1 by a real RTSP server."""

    def __init__(
        self,
        cache_dir: Path,
        count: int = 3,
        main_size: tuple[int, int] = (1280, 720),
        sub_size: tuple[int, int] = (640, 360),
        fps: int = scene.FPS,
        port: int = 0,
        user: str | None = None,
        password: str | None = None,
        *,
        log_level: str = "WARNING",
        scenes: int | None = None,
        resolution_switch: bool = False,
        covered: bool = False,
    ) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        if scenes is not None and scenes < 1:
            raise ValueError("scenes must be at least 1")
        if (user is None) != (password is None):
            raise ValueError("give both user and password, or neither")
        self.cache_dir = Path(cache_dir)
        self.count = count
        self.main_size = main_size
        self.sub_size = sub_size
        self.fps = fps
        self.user = user
        self.password = password
        self.log_level = log_level
        # None: every camera shows its own street; n: camera i reuses street ((i-1) % n)+1, so many cameras
        # (benchmarks) render only n footages
        self.scenes = scenes
        # /switch: camera 1's street at the sub size, then at the main size, in one stream (a camera whose
        # resolution is changed while it streams)
        self.resolution_switch = resolution_switch
        # /covered: camera 1's sub stream, COVER_AFTER_SECONDS of street then COVER_SECONDS of a hand over the lens
        self.covered = covered
        self._requested_port = port
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None

    # --- lifecycle --------------------------------------------------------------------------------------------

    def __enter__(self) -> SimulatedCameras:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> SimulatedCameras:
        if self._proc is not None:
            return self
        mounts = self._prepare_mounts()
        self._workdir = Path(tempfile.mkdtemp(prefix="matthan-sim-"))
        mounts_file = self._workdir / "mounts.json"
        mounts_file.write_text(json.dumps(mounts, indent=1))
        cmd = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self._requested_port), "--mounts", str(mounts_file),
               "--log-level", self.log_level, "--exit-with-parent"]  # fmt: skip
        env = dict(os.environ)
        if self.user is not None:
            cmd += ["--user", self.user]
            env[PASSWORD_ENV] = self.password or ""
        # the system Python must not pick up the venv's packages
        for var in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
            env.pop(var, None)
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child keeps writing to it until stop()
        try:
            self._proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,  # own process group: stop() can signal the server and nothing else
            )  # fmt: skip
        finally:
            log.close()
        try:
            self._port = self._wait_ready()
        except BaseException:
            self.stop()
            raise
        logger.info("simulated cameras ready on 127.0.0.1:%d (%d cameras)", self._port, self.count)
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            _terminate_group(proc)
            if proc.stdout is not None:
                proc.stdout.close()
        self._port = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # --- addresses --------------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise SimulatorError("simulated cameras are not running")
        return self._port

    @property
    def log_path(self) -> Path:
        """The server's stderr (its log), kept next to the mounts file while running."""
        if self._workdir is None:
            raise SimulatorError("simulated cameras are not started")
        return self._workdir / "rtsp_server.log"

    def url(self, path: str, *, credentials: bool = True) -> str:
        """rtsp:// URL of a mount, with the configured user and password unless credentials=False."""
        auth = ""
        if credentials and self.user is not None:
            auth = f"{quote(self.user, safe='')}:{quote(self.password or '', safe='')}@"
        return f"rtsp://{auth}127.0.0.1:{self.port}/{path.lstrip('/')}"

    def main_url(self, i: int) -> str:
        return self.url(f"/cam{self._check_camera(i)}/main")

    def sub_url(self, i: int) -> str:
        return self.url(f"/cam{self._check_camera(i)}/sub")

    @property
    def audio_url(self) -> str:
        return self.url(AUDIO_ONLY_PATH)

    # --- internals --------------------------------------------------------------------------------------------

    def _check_camera(self, i: int) -> int:
        if not 1 <= i <= self.count:
            raise IndexError(f"camera {i} out of 1..{self.count}")
        return i

    @property
    def switch_url(self) -> str:
        if not self.resolution_switch:
            raise RuntimeError("start SimulatedCameras with resolution_switch=True for /switch")
        return self.url("/switch")

    def scene_of(self, i: int) -> int:
        """The footage (camera_index) camera i shows."""
        i = self._check_camera(i)
        return i if self.scenes is None else (i - 1) % self.scenes + 1

    def _prepare_mounts(self) -> list[dict[str, object]]:
        sizes = {"main": self.main_size, "sub": self.sub_size}
        # each distinct footage is rendered once, however many cameras share it
        jobs = sorted({(self.scene_of(i), size) for i in range(1, self.count + 1) for size in sizes.values()})

        def render(job: tuple[int, tuple[int, int]]) -> Path:
            index, (width, height) = job
            return generate_footage(self.cache_dir, camera_index=index, width=width, height=height, fps=self.fps)

        started = time.monotonic()
        # rendering releases the GIL in cv2/numpy and the encoding happens in ffmpeg, so threads overlap well
        with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
            files = dict(zip(jobs, pool.map(render, jobs)))
        logger.info("footage ready in %.1f s", time.monotonic() - started)
        mounts = [{"path": f"/cam{i}/{kind}", "file": str(files[(self.scene_of(i), size)]), "fps": self.fps}
                  for i in range(1, self.count + 1) for kind, size in sizes.items()]  # fmt: skip
        if self.resolution_switch:
            mounts.append({"path": "/switch", "file": str(self._switching_footage(files)), "fps": self.fps})
        if self.covered:
            mounts.append({"path": "/covered", "file": str(self._covered_footage(files)), "fps": self.fps})
        return mounts

    def _switching_footage(self, files: dict[tuple[int, tuple[int, int]], Path]) -> Path:
        """SWITCH_SECONDS at the sub size, then SWITCH_SECONDS at the main size, looping: the resolution changes
        every few seconds. Annex-B parts concatenate cleanly, each starting with SPS/PPS and an IDR."""
        first, second = files[(self.scene_of(1), self.sub_size)], files[(self.scene_of(1), self.main_size)]
        switching = self.cache_dir / f"switch-{first.stem}-{second.stem}.h264"
        if switching.exists():
            return switching
        parts = [_first_frames(source, SWITCH_SECONDS * self.fps) for source in (first, second)]
        tmp = switching.with_suffix(".tmp")
        tmp.write_bytes(b"".join(parts))
        tmp.replace(switching)
        return switching

    def _covered_footage(self, files: dict[tuple[int, tuple[int, int]], Path]) -> Path:
        """The street, then a dark, featureless view (someone's hand or a bag over the camera), looping."""
        street = files[(self.scene_of(1), self.sub_size)]
        covered = self.cache_dir / f"covered-{street.stem}.h264"
        if covered.exists():
            return covered
        width, height = self.sub_size
        gop = max(1, self.fps // 2)
        part_street = _first_frames(street, COVER_AFTER_SECONDS * self.fps)
        part_covered = subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"color=c=0x1e1a16:s={width}x{height}:r={self.fps}",
             "-frames:v", str(COVER_SECONDS * self.fps), "-c:v", "libx264", "-preset", "veryfast", "-tune",
             "zerolatency", "-profile:v", "baseline", "-bf", "0", "-g", str(gop), "-keyint_min", str(gop),
             "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-x264-params", "repeat-headers=1", "-f", "h264", "-"],
            capture_output=True, check=True, timeout=60).stdout
        tmp = covered.with_suffix(".tmp")
        tmp.write_bytes(part_street + part_covered)
        tmp.replace(covered)
        return covered

    @property
    def covered_url(self) -> str:
        if not self.covered:
            raise RuntimeError("start SimulatedCameras with covered=True for /covered")
        return self.url("/covered")

    def _wait_ready(self) -> int:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        deadline = time.monotonic() + READY_TIMEOUT
        buffered = b""
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while b"\n" not in buffered:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SimulatorError(f"RTSP server not ready after {READY_TIMEOUT:.0f} s{self._log_tail()}")
                if selector.select(timeout=remaining):
                    chunk = os.read(proc.stdout.fileno(), 4096)
                    if not chunk:
                        proc.wait()
                        raise SimulatorError(f"RTSP server exited with {proc.returncode}{self._log_tail()}")
                    buffered += chunk
        line = buffered.split(b"\n", 1)[0].decode(errors="replace").strip()
        word, _, port = line.partition(" ")
        if word != "READY" or not port.isdigit():
            raise SimulatorError(f"unexpected first line from the RTSP server: {line!r}")
        return int(port)

    def _log_tail(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip()
        except (OSError, SimulatorError):
            return ""
        return f": {text[-1500:]}" if text else ""


def _first_frames(source: Path, frames: int) -> bytes:
    """The first `frames` frames of an Annex-B file, cut by stream copy (it starts with SPS/PPS and an IDR)."""
    return subprocess.run(["ffmpeg", "-v", "error", "-f", "h264", "-i", str(source), "-map", "0:v:0",
                           "-frames:v", str(frames), "-c", "copy", "-f", "h264", "-"],
                          capture_output=True, check=True, timeout=60).stdout


def _terminate_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL it if it lingers, and always reap it."""
    for sig, timeout in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass  # already gone; wait() below still reaps it
        try:
            proc.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            logger.warning("RTSP server %d ignored SIGTERM, killing it", proc.pid)


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve simulated RTSP cameras until interrupted.")
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "matthan" / "simulator")
    parser.add_argument("--main-size", type=_size, default=(1280, 720), metavar="WxH")
    parser.add_argument("--sub-size", type=_size, default=(640, 360), metavar="WxH")
    parser.add_argument("--fps", type=int, default=scene.FPS)
    parser.add_argument("--user")
    parser.add_argument("--password", default=os.environ.get(PASSWORD_ENV))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    cameras = SimulatedCameras(args.cache, count=args.count, main_size=args.main_size, sub_size=args.sub_size,
                               fps=args.fps, port=args.port, user=args.user, password=args.password,
                               log_level="INFO")  # fmt: skip
    with cameras:
        for i in range(1, args.count + 1):
            # URLs are printed without the password (it is whatever was passed in)
            print(f"camera {i}: main {cameras.url(f'/cam{i}/main', credentials=False)}  "
                  f"sub {cameras.url(f'/cam{i}/sub', credentials=False)}")  # fmt: skip
        print(f"audio only: {cameras.url(AUDIO_ONLY_PATH, credentials=False)}", flush=True)
        while not stop.wait(1.0):
            if not cameras.running:
                logger.error("RTSP server died; see %s", cameras.log_path)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
