"""The live hub: one RTSP pull per camera stream (MediaPlayer, demux only), fanned out to WebRTC viewers (fanout.py).

A pull starts with its first viewer and closes `grace_s` after its last one leaves, so flicking between the wall and
a large view does not reconnect the camera. Packets go out as they came: the server never decodes or encodes video.
A camera that cannot be opened is not asked again for `failure_age_s`: however many walls retry, a camera that is
down gets one connection attempt per stream in that time. A pull that has sent nothing for `silent_s` (power cut,
cable pulled: the connection stays open until the read timeout) is not handed to a new viewer: the offer is told the
camera is offline, the pull is closed, and the next offer opens the camera afresh.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Literal

import av
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError

from config.inventory import mask_url
from review_ui.live.errors import StreamUnavailable
from review_ui.live.offers import WITH_LOOPBACK, check_offer, h264_codecs
from review_ui.live.fanout import HeldTrack, Packetizer, ViewerLink
from review_ui.live.tracks import CameraTrack

logger = logging.getLogger(__name__)

Stream = Literal["sub", "main"]
class _MaskedUrls(logging.Filter):
    """aiortc's MediaPlayer names its stream, URL and password included, in its own log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = mask_url(record.getMessage()), None
        return True


logging.getLogger("aiortc.contrib.media").addFilter(_MaskedUrls())


@dataclass(frozen=True)
class LiveTarget:
    """A camera stream to show. `url` carries the camera's credentials: log `masked_url` only."""

    camera: str
    stream: Stream
    url: str

    @property
    def key(self) -> tuple[str, str]:
        return self.camera, self.stream

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)


@dataclass(frozen=True)
class StreamStatus:
    camera: str
    stream: str
    viewers: int
    packets: int
    opened_at: float
    rtp_sent: int  # by the viewers connected now
    rtp_resent: int
    rtp_dropped: int


class LiveSource:
    """One open camera stream, read by one task that hands every frame to the viewers' links."""

    def __init__(self, target: LiveTarget, player: MediaPlayer) -> None:
        assert player.video is not None
        self.target = target
        self.player = player
        self.track = CameraTrack(player.video)
        self.links: set[ViewerLink] = set()
        self.viewers = 0
        self.opened_at = time.time()
        self.closing: asyncio.TimerHandle | None = None
        self._reader = asyncio.ensure_future(self._read())

    @property
    def ended(self) -> bool:
        return self.track.readyState == "ended"

    @property
    def silent_s(self) -> float:
        """Seconds since the camera last sent packets (one lone packet is not the camera sending again)."""
        return time.monotonic() - self.track.arrivals[0]

    async def _read(self) -> None:
        packetizer = Packetizer()
        try:
            while True:
                packet = await self.track.recv()
                if self.links:  # nobody watching (grace period): the packets are only drained
                    frame = packetizer.frame(packet)
                    for link in list(self.links):
                        try:
                            link.send(frame)
                        except Exception:  # one viewer's fault (SRTP, socket) hangs up that viewer only
                            logger.exception("live %s/%s: sending to a viewer failed", *self.target.key)
                            self.links.discard(link)
                            link.on_gone()
        except MediaStreamError:
            pass  # the camera stopped sending, or close()
        except Exception:  # never silently: a viewer would see a frozen picture and no reason
            logger.exception("live %s/%s: the fan-out failed", *self.target.key)
            self.track.stop()
        for link in list(self.links):
            link.on_gone()  # hang up, so the page reconnects or shows pictures

    async def close(self) -> None:
        self.track.stop()  # ends the reading task
        await asyncio.gather(self._reader, return_exceptions=True)
        video = self.player.video
        if video is not None:
            # joins the demux thread and closes the RTSP session: blocking calls
            await asyncio.to_thread(video.stop)


class LiveHub:
    """Camera streams and the peer connections watching them, for one web process."""

    def __init__(self, *, rtsp_transport: str = "tcp", connect_timeout_s: float = 5.0, grace_s: float = 10.0,
                 ice_timeout_s: float = 15.0, failure_age_s: float = 5.0, silent_s: float = 3.0) -> None:  # fmt: skip
        self.rtsp_transport = rtsp_transport
        self.connect_timeout_s = connect_timeout_s
        self.grace_s = grace_s
        self.ice_timeout_s = ice_timeout_s
        self.failure_age_s = failure_age_s
        # below the page's stall check (no frame for 4-6 s): the page's new offer then finds the pull silent
        self.silent_s = silent_s
        self._failed: dict[tuple[str, str], tuple[float, StreamUnavailable]] = {}
        self._sources: dict[tuple[str, str], LiveSource] = {}
        self._opening: dict[tuple[str, str], asyncio.Future[LiveSource]] = {}
        self._peers: set[RTCPeerConnection] = set()
        self._closing_tasks: set[asyncio.Task[None]] = set()
        self.pulls_opened: dict[str, int] = {}  # "camera/stream" → RTSP sessions opened since start
        self.pulls_failed: dict[str, int] = {}  # "camera/stream" → attempts to open one that failed since start

    # --- signalling -----------------------------------------------------------------------------------------------

    async def answer(self, target: LiveTarget, offer_sdp: str) -> RTCSessionDescription:
        """Answer a browser's offer (non-trickle: every candidate is in the answer). ValueError for an offer we
        cannot answer, StreamUnavailable when the camera stream cannot be opened."""
        with_loopback = check_offer(offer_sdp)
        source = await self._acquire(target)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._peers.add(pc)
        held = HeldTrack()
        link: ViewerLink | None = None
        done = False

        async def finish() -> None:
            nonlocal done
            if done:
                return
            done = True
            self._peers.discard(pc)
            if link is not None:
                source.links.discard(link)
            held.stop()
            await pc.close()
            if link is not None:
                link.close()
            self._release(source)

        @pc.on("connectionstatechange")
        async def _changed() -> None:
            if pc.connectionState in ("failed", "closed"):
                await finish()

        def _camera_gone() -> None:
            # the camera stopped sending (dropped, rebooted): hang up, so the page reconnects or shows pictures
            if not done:
                self._spawn(finish())

        def _give_up() -> None:
            if pc.connectionState != "connected" and not done:
                logger.info("live %s/%s: the viewer did not connect in %.0f s", target.camera, target.stream,
                            self.ice_timeout_s)
                self._spawn(finish())

        asyncio.get_running_loop().call_later(self.ice_timeout_s, _give_up)
        token = WITH_LOOPBACK.set(with_loopback)
        try:
            # Before the offer is applied, which fixes the codecs: H.264 only, since the packets are the camera's
            # own and no other codec could be answered without re-encoding.
            transceiver = pc.addTransceiver(held, direction="sendonly")
            transceiver.setCodecPreferences(h264_codecs())
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            link = ViewerLink(pc, transceiver.sender, _camera_gone)
        except Exception as exc:
            await finish()
            if isinstance(exc, ValueError) or type(exc).__module__.startswith("aiortc"):
                raise ValueError(f"the offer cannot be answered: {exc or type(exc).__name__}") from None
            raise
        finally:
            WITH_LOOPBACK.reset(token)
        if source.ended:
            _camera_gone()
        else:
            source.links.add(link)
        return pc.localDescription

    # --- camera streams -------------------------------------------------------------------------------------------

    async def _acquire(self, target: LiveTarget) -> LiveSource:
        source = self._sources.get(target.key)
        if source is not None and not source.ended and source.silent_s > self.silent_s:
            # still connected, sending nothing: its viewers are hung up (they offer again) and this one is told why
            del self._sources[target.key]
            if source.closing is not None:
                source.closing.cancel()
            self._spawn(source.close())
            self._failed_open(target, StreamUnavailable("offline", f"camera {target.camera} ({target.stream} stream) "
                                                        f"has sent nothing for {source.silent_s:.0f} s"))  # fmt: skip
            source = None
        if source is None or source.ended:
            opening = self._opening.get(target.key)
            failed = self._failed.get(target.key)
            if opening is None and failed is not None and time.monotonic() - failed[0] < self.failure_age_s:
                # the camera was down a moment ago: do not knock again for every viewer (a new exception: one
                # raised again and again would grow its traceback)
                raise StreamUnavailable(failed[1].reason, failed[1].detail)
            if opening is None:
                opening = asyncio.ensure_future(self._open(target))
                self._opening[target.key] = opening
                opening.add_done_callback(lambda _: self._opening.pop(target.key, None))
            source = await asyncio.shield(opening)
        if source.closing is not None:
            source.closing.cancel()
            source.closing = None
        source.viewers += 1
        return source

    async def _open(self, target: LiveTarget) -> LiveSource:
        try:
            source = await self._open_player(target)
        except StreamUnavailable as exc:
            self._failed_open(target, exc)
            raise
        if self._failed.pop(target.key, None) is not None:
            logger.info("live %s: the camera is back", "/".join(target.key))
        return source

    def _failed_open(self, target: LiveTarget, exc: StreamUnavailable) -> None:
        previous = self._failed.get(target.key)
        # walls retry a camera that is down every few seconds: its log says so once, and again when it changes
        level = logging.DEBUG if previous is not None and previous[1].reason == exc.reason else logging.WARNING
        logger.log(level, "live %s: %s", target.masked_url, exc)
        self._failed[target.key] = (time.monotonic(), exc)
        name = "/".join(target.key)
        self.pulls_failed[name] = self.pulls_failed.get(name, 0) + 1

    async def _open_player(self, target: LiveTarget) -> LiveSource:
        stale = self._sources.pop(target.key, None)
        if stale is not None:
            await stale.close()
        options = {"rtsp_transport": self.rtsp_transport, "analyzeduration": "500000", "probesize": "100000"}
        try:
            # MediaPlayer connects in __init__ (seconds for a slow camera): never on the event loop
            player = await asyncio.to_thread(MediaPlayer, target.url, format="rtsp", options=options,
                                             timeout=self.connect_timeout_s, decode=False)  # fmt: skip
        except (av.FFmpegError, OSError) as exc:
            # `from None`: the library's message (and so a traceback) holds the URL with its password
            error = StreamUnavailable.from_library_text(target.camera, target.stream, mask_url(str(exc)))
            raise error from None
        if player.video is None:
            await asyncio.to_thread(_close_container, player)
            raise StreamUnavailable("unsupported_stream", f"camera {target.camera} ({target.stream} stream) sends "
                                    "no H.264 video; browsers play only H.264 live: set the camera's stream to H.264")
        source = LiveSource(target, player)
        self._sources[target.key] = source
        # closes unless a viewer takes it: the request that opened it may have gone away meanwhile
        self._close_later(source)
        name = "/".join(target.key)
        self.pulls_opened[name] = self.pulls_opened.get(name, 0) + 1
        logger.info("live %s: pulling %s", name, target.masked_url)
        return source

    def _release(self, source: LiveSource) -> None:
        source.viewers -= 1
        if source.viewers > 0:
            return
        if source.ended:
            self._drop(source)
            return
        self._close_later(source)

    def _close_later(self, source: LiveSource) -> None:
        def _close() -> None:
            source.closing = None
            if source.viewers == 0:
                self._drop(source)

        if source.closing is not None:
            source.closing.cancel()
        source.closing = asyncio.get_running_loop().call_later(self.grace_s, _close)

    def _drop(self, source: LiveSource) -> None:
        if self._sources.get(source.target.key) is source:
            del self._sources[source.target.key]
        logger.info("live %s/%s: closing the pull (no viewer)", *source.target.key)
        self._spawn(source.close())

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._closing_tasks.add(task)
        task.add_done_callback(self._closing_tasks.discard)

    # --- state and shutdown ---------------------------------------------------------------------------------------

    def status(self) -> list[StreamStatus]:
        return [StreamStatus(s.target.camera, s.target.stream, s.viewers, s.track.packets, s.opened_at,
                             sum(k.sent for k in s.links), sum(k.resent for k in s.links), sum(k.dropped for k in s.links))
                for s in sorted(self._sources.values(), key=lambda s: s.target.key) if not s.ended]  # fmt: skip

    @property
    def peers(self) -> int:
        return len(self._peers)

    async def close(self) -> None:
        """Close every peer connection and camera stream (the app's shutdown)."""
        await asyncio.gather(*(pc.close() for pc in list(self._peers)), return_exceptions=True)
        self._peers.clear()
        sources, self._sources = list(self._sources.values()), {}
        for source in sources:
            if source.closing is not None:
                source.closing.cancel()
        await asyncio.gather(*(s.close() for s in sources), *self._closing_tasks, return_exceptions=True)


def _close_container(player: MediaPlayer) -> None:
    # MediaPlayer has no close() and keeps the container open when it found no usable track
    container = getattr(player, "_MediaPlayer__container", None)
    if container is not None:
        container.close()
