"""Media tracks of the live view: H.264 packets from a camera, passed on untouched (never decoded or re-encoded)."""

from __future__ import annotations

import asyncio
import collections
import time

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

START_CODE = b"\x00\x00\x01"
NAL_SPS = 7


def nal_types(data: bytes) -> set[int]:
    """NAL unit types in an Annex-B H.264 access unit."""
    types, at = set(), data.find(START_CODE)
    while at != -1 and at + 3 < len(data):
        types.add(data[at + 3] & 0x1F)
        at = data.find(START_CODE, at + 3)
    return types


def with_parameter_sets(packet: av.Packet) -> av.Packet:
    """A keyframe as a browser can start decoding from: SPS/PPS in front of it.

    Many cameras send SPS/PPS only in the RTSP SDP (sprop-parameter-sets, which ffmpeg keeps as extradata), never in
    the stream; a WebRTC receiver never sees that SDP, so they are put back in front of every keyframe lacking them."""
    if not packet.is_keyframe or packet.stream is None:
        return packet
    extradata = packet.stream.codec_context.extradata or b""
    data = bytes(packet)
    if not extradata.startswith((START_CODE, b"\x00" + START_CODE)) or NAL_SPS in nal_types(data):
        return packet
    fixed = av.Packet(extradata + data)
    fixed.pts, fixed.dts, fixed.time_base, fixed.is_keyframe = packet.pts, packet.dts, packet.time_base, True
    return fixed


class CameraTrack(MediaStreamTrack):
    """The camera's video as it arrives (one per RTSP pull), with parameter sets before each keyframe.

    Wraps the MediaPlayer's track so that stop() also ends a pending recv(): the source's reading task then ends
    and hangs up every viewer (the player's own track would keep it waiting forever)."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self._source = source
        self._pending: asyncio.Future[object] | None = None
        self._stopping = False
        self.packets = 0
        # when the last two packets came (the pull's opening before that): the hub hands no new viewer a pull gone
        # silent; the older of the two, as ffmpeg hands on a last packet when its read gives up on a silent camera
        self.arrivals: collections.deque[float] = collections.deque([time.monotonic()] * 2, maxlen=2)

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        self._pending = asyncio.ensure_future(self._source.recv())
        try:
            packet = await self._pending
        except MediaStreamError:
            self.stop()
            raise
        except asyncio.CancelledError:
            if not self._stopping:
                raise  # the reading task itself was cancelled
            raise MediaStreamError from None
        finally:
            self._pending = None
        self.packets += 1
        self.arrivals.append(time.monotonic())
        assert isinstance(packet, av.Packet)  # MediaPlayer(decode=False) hands on packets
        return with_parameter_sets(packet)

    def stop(self) -> None:
        self._stopping = True
        if self._pending is not None:
            self._pending.cancel()
        super().stop()
