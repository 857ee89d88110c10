"""RTSP server that loops simulated cameras' H.264 footage in step with the UTC clock (run by the system Python + gi)."""

# Runs under /usr/bin/python3, which has gi but not numpy, cv2 or our venv: stdlib + gi only, and scene.py by path.

from __future__ import annotations

import argparse
import bisect
import importlib.util
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

logger = logging.getLogger(__name__)

AUDIO_ONLY_PATH = "/audio-only"
PASSWORD_ENV = "MATTHAN_SIM_RTSP_PASSWORD"  # lets the runner keep the password out of `ps`
# A frame more than this many frames late is not worth sending: resync at the newest keyframe instead.
MAX_LATE_FRAMES = 3
# Keep PTS strictly increasing even when clamped (equal RTP timestamps make recorders choke).
MIN_PTS_STEP = Gst.MSECOND
PARAMETER_NAL_TYPES = {6, 7, 8, 9, 14, 15, 16, 17, 18}  # SEI, SPS, PPS, AUD, prefix/subset/... (H.264 7.4.1.2.3)
SLICE_NAL_TYPES = {1, 5}
IDR_NAL_TYPE = 5


def _load_scene():
    """scene.py is stdlib-only; load it by path so this script needs neither the venv nor the package installed."""
    path = Path(__file__).with_name("scene.py")
    spec = importlib.util.spec_from_file_location("matthan_simulator_scene", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


scene = _load_scene()


@dataclass(frozen=True)
class AccessUnit:
    """One coded picture with its parameter sets/SEI, as Annex-B bytes."""

    data: bytes
    keyframe: bool


def _nal_starts(data: bytes) -> list[tuple[int, int]]:
    """(start-code offset, payload offset) of every NAL unit in an Annex-B byte string."""
    found: list[tuple[int, int]] = []
    pos = data.find(b"\x00\x00\x01")
    while pos != -1:
        code = pos - 1 if pos > 0 and data[pos - 1] == 0 else pos  # 4-byte start code owns its leading zero
        found.append((code, pos + 3))
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return found


def split_access_units(data: bytes) -> list[AccessUnit]:
    """Split an Annex-B H.264 stream into access units (one per picture, multi-slice pictures kept whole)."""
    starts = _nal_starts(data)
    units: list[AccessUnit] = []
    au_begin: int | None = None
    seen_slice = False
    keyframe = False
    for code, payload in starts:
        if payload >= len(data):
            break
        nal_type = data[payload] & 0x1F
        if nal_type in PARAMETER_NAL_TYPES:
            new_au = seen_slice
        elif nal_type in SLICE_NAL_TYPES:
            # first_mb_in_slice is the first ue(v) of the slice header; value 0 is the single bit '1'
            first_mb_is_zero = payload + 1 < len(data) and bool(data[payload + 1] & 0x80)
            new_au = seen_slice and first_mb_is_zero
        else:
            new_au = False
        if new_au and au_begin is not None:
            units.append(AccessUnit(data[au_begin:code], keyframe))
            au_begin, seen_slice, keyframe = None, False, False
        if au_begin is None:
            au_begin = code
        if nal_type in SLICE_NAL_TYPES:
            seen_slice = True
            keyframe = keyframe or nal_type == IDR_NAL_TYPE
    if au_begin is not None and seen_slice:
        units.append(AccessUnit(data[au_begin:], keyframe))
    return units


class Footage:
    """A looped clip: access units plus where its keyframes are, mapped onto the UTC clock."""

    def __init__(self, path: Path, fps: int) -> None:
        self.path = path
        self.fps = fps
        self.units = split_access_units(path.read_bytes())
        if not self.units or not self.units[0].keyframe:
            raise ValueError(f"{path}: no access units, or the first one is not an IDR")
        self.keyframes = [i for i, unit in enumerate(self.units) if unit.keyframe]
        expected = scene.CYCLE_SECONDS * fps
        if len(self.units) != expected:
            logger.warning("%s has %d frames, expected %d: the loop will not align to the cycle",
                           path, len(self.units), expected)  # fmt: skip

    def keyframe_at_or_before(self, frame: int) -> int:
        """Global frame number (frames since the epoch) of the newest keyframe at or before `frame`."""
        n = len(self.units)
        index = frame % n
        key = self.keyframes[bisect.bisect_right(self.keyframes, index) - 1]
        return frame - (index - key)


class Feeder:
    """Pushes one media's access units into its appsrc at each frame's wall-clock due time."""

    def __init__(self, footage: Footage, appsrc: Gst.Element, mount: str) -> None:
        self.footage = footage
        self.appsrc = appsrc
        self.mount = mount
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"feeder{mount}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _wait_playing(self) -> bool:
        # live media go to PLAYING while preparing; only then do clock and base time mean anything
        while not self._stop.is_set():
            _, state, _ = self.appsrc.get_state(0)
            if state == Gst.State.PLAYING and self.appsrc.get_clock() is not None:
                return True
            self._stop.wait(0.005)
        return False

    def _run(self) -> None:
        try:
            self._feed()
        except Exception:  # a feeder must never die silently: the stream would just freeze
            logger.exception("feeder for %s failed", self.mount)

    def _feed(self) -> None:
        if not self._wait_playing():
            return
        fps = self.footage.fps
        units = self.footage.units
        frame_ns = Gst.SECOND // fps
        # start at the keyframe a decoder needs for the frame due now; the few frames before "now" go out at once
        frame = self.footage.keyframe_at_or_before(math.floor(time.time() * fps))
        last_pts = -1
        sent = 0
        logger.info("feeding %s from frame %d", self.mount, frame % len(units))
        while not self._stop.is_set():
            now = time.time()
            due_now = math.floor(now * fps)
            if frame > due_now:
                # pace from the wall clock every frame (never by accumulated sleeps), so there is no drift
                self._stop.wait(max(0.0, frame / fps - now))
                continue
            if due_now - frame > MAX_LATE_FRAMES:
                newest_key = self.footage.keyframe_at_or_before(due_now)
                if newest_key > frame:
                    logger.warning("%s: %d frames late, resyncing at a keyframe", self.mount, due_now - frame)
                    frame = newest_key
            clock = self.appsrc.get_clock()
            if clock is None:
                return  # the pipeline has left PLAYING: the media is going away
            running = clock.get_time() - self.appsrc.get_base_time()
            # running time at which this frame was due (now + how long ago it was due), kept strictly increasing
            pts = running + int((frame / fps - time.time()) * Gst.SECOND)
            pts = max(pts, last_pts + MIN_PTS_STEP, 0)
            unit = units[frame % len(units)]
            buf = Gst.Buffer.new_wrapped(unit.data)
            buf.pts = buf.dts = pts
            buf.duration = frame_ns
            if not unit.keyframe:
                buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
            result = self.appsrc.emit("push-buffer", buf)
            if result != Gst.FlowReturn.OK:
                logger.info("%s: appsrc refused a buffer (%s), stopping", self.mount, result.value_nick)
                return
            last_pts = pts
            frame += 1
            sent += 1
        logger.info("stopped feeding %s after %d frames", self.mount, sent)


class LoopingFactory(GstRtspServer.RTSPMediaFactory):
    """Shared media whose pipeline is an appsrc fed by a Feeder, one pipeline per mount for all clients."""

    def __init__(self, footage: Footage, mount: str) -> None:
        super().__init__()
        self.footage = footage
        self.mount = mount
        self.set_shared(True)
        caps = f"video/x-h264,stream-format=byte-stream,alignment=au,framerate={footage.fps}/1"
        # alignment=au: each buffer is a whole picture, so h264parse need not wait for the next one to see its end
        self.set_launch(
            f'( appsrc name=src is-live=true format=time do-timestamp=false caps="{caps}" '
            "max-time=2000000000 leaky-type=downstream "
            "! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
        self.connect("media-configure", self._on_media_configure)

    def _on_media_configure(self, _factory, media: GstRtspServer.RTSPMedia) -> None:
        appsrc = media.get_element().get_by_name_recurse_up("src")
        feeder = Feeder(self.footage, appsrc, self.mount)
        media.connect("unprepared", lambda _media: feeder.stop())
        feeder.start()


def _audio_factory() -> GstRtspServer.RTSPMediaFactory:
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_shared(True)
    factory.set_launch("( audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=8000,channels=1 "
                       "! alawenc ! rtppcmapay name=pay0 pt=8 )")  # fmt: skip
    return factory


def _permit(factory: GstRtspServer.RTSPMediaFactory, role: str) -> None:
    perms = Gst.Structure.new_from_string(
        f"{role}, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
    )
    factory.add_role_from_structure(perms)


def _make_auth(user: str, password: str) -> GstRtspServer.RTSPAuth:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", "user")  # not writable_structure(): gi hands back a copy
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    auth.add_digest(user, password, token)
    # Digest, the challenge real IP cameras send (gi sees the method mask as a plain enum: BASIC|DIGEST can't be set)
    auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    # No default token for anonymous clients: with one, the server answers them 404 instead of a 401 challenge,
    # and clients never send credentials. So /audio-only needs the same credentials as the video mounts.
    return auth


def build_server(mounts: list[dict], *, port: int, user: str | None, password: str | None):
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    table = server.get_mount_points()
    for mount in mounts:
        footage = Footage(Path(mount["file"]), int(mount.get("fps", scene.FPS)))
        factory = LoopingFactory(footage, mount["path"])
        if user is not None:
            _permit(factory, "user")
        table.add_factory(mount["path"], factory)
        logger.info("mount %s: %s (%d frames)", mount["path"], footage.path.name, len(footage.units))
    audio = _audio_factory()
    if user is not None:
        _permit(audio, "user")
        server.set_auth(_make_auth(user, password or ""))
    table.add_factory(AUDIO_ONLY_PATH, audio)
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8554, help="TCP port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--mounts", type=Path, required=True, help='JSON list of {"path", "file", "fps"}')
    parser.add_argument("--user")
    parser.add_argument("--password", default=os.environ.get(PASSWORD_ENV), help=f"default: ${PASSWORD_ENV}")
    parser.add_argument("--exit-with-parent", action="store_true", help="quit when the parent process goes away")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s rtsp_server %(levelname)s %(message)s")  # fmt: skip
    Gst.init(None)
    try:
        server = build_server(json.loads(args.mounts.read_text()), port=args.port, user=args.user,
                              password=args.password)  # fmt: skip
    except (OSError, ValueError, KeyError) as exc:
        logger.error("cannot load mounts from %s: %s", args.mounts, exc)
        return 2
    loop = GLib.MainLoop()
    if not server.attach(None):
        logger.error("cannot listen on 127.0.0.1:%s", args.port)
        return 1
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, loop.quit)
    parent = os.getppid()

    def housekeeping() -> bool:
        # clients that vanish without a TEARDOWN leave sessions behind; expire them so their media can stop
        server.get_session_pool().cleanup()
        if args.exit_with_parent and os.getppid() != parent:
            # whoever started us was killed (SIGKILL cannot be forwarded): do not serve forever as an orphan
            logger.warning("parent process %d is gone, exiting", parent)
            loop.quit()
        return True  # keep the timer

    GLib.timeout_add_seconds(1, housekeeping)
    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()
    logger.info("shutting down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
