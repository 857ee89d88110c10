"""Live fan-out: a camera's H.264 frames to every WebRTC viewer, packetized once, sent straight to each viewer's socket.

aiortc's own path (MediaRelay, then one RTCRtpSender per viewer) costs every viewer a queue hop and a coroutine per
frame, a fresh packetization of the same frame, an RtpPacket object, header extensions serialised and three awaits per
packet: 0.42 % of a core per 66 kB/s viewer, as much as pulling the camera (tests/bench/bench_live.py). Here a frame is
packetized once per camera stream (`CameraFrame`); per viewer only a 12-byte header is written, SRTP applied and the
frame's packets sent in one system call (UDP segmentation offload) where the kernel allows it.

aiortc still does everything else: SDP, ICE (and its consent checks), DTLS and the SRTP keys, and each viewer's RTCP
(sender reports, receiver reports, NACK). The sender is told what was sent as if it had sent it, so its sender reports
stay true, and NACKed packets are resent from a short history. The aiortc internals this needs are all read in
`ViewerLink.__init__` and `ViewerLink._route`: an aiortc release that moves them fails there, loudly (constraints.txt
pins aiortc and aioice; tests/review_ui/test_live.py plays the result in Chromium and in aiortc viewers).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import random
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

import av
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpSender
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters
from aiortc.clock import current_ntp_time
from aiortc.codecs.h264 import H264Encoder
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import pack_header_extensions
from aiortc.sdp import SessionDescription

logger = logging.getLogger(__name__)

UDP_SEGMENT = getattr(socket, "UDP_SEGMENT", 103)  # linux/udp.h; Python 3.11 does not name it
GSO_MAX_SEGMENTS = 64  # the kernel's limit is 64 (older) or 128 per call
HISTORY = 256  # packets kept per viewer for NACKs (~300 kB): 3 s of a 66 kB/s sub stream, ~1 s of a main stream
_HEADER = struct.Struct("!BBHII")
_EXT_HEADER = struct.Struct("!HH")
ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
SDES_MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
_gso = {"works": True}  # off for the whole process after the kernel refused it once


def batches(sizes: list[int]) -> list[tuple[int, int]]:
    """Runs of packets one UDP GSO call can send: equal sizes, the last one of a run may be shorter (at most
    GSO_MAX_SEGMENTS each). aiortc's FU-A fragments of a NAL unit differ by one byte at most: two runs per NAL."""
    runs, at = [], 0
    while at < len(sizes):
        size, end = sizes[at], at + 1
        while end < len(sizes) and end - at < GSO_MAX_SEGMENTS and sizes[end] <= size:
            end += 1
            if sizes[end - 1] < size:
                break
        runs.append((at, end))
        at = end
    return runs


def singles(count: int) -> list[tuple[int, int]]:
    return [(i, i + 1) for i in range(count)]


class HeldTrack(MediaStreamTrack):
    """The track the viewer's RTCRtpSender is given: it never yields a frame (the fan-out sends the packets), so the
    sender's own RTP loop waits in recv() until the connection closes."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._stopped = asyncio.Event()

    async def recv(self) -> av.Packet:  # type: ignore[override]
        await self._stopped.wait()
        raise MediaStreamError

    def stop(self) -> None:
        self._stopped.set()
        super().stop()


@dataclass(frozen=True)
class CameraFrame:
    """One access unit of the camera, packetized for RTP once for all viewers."""

    payloads: list[bytes]
    timestamp: int  # 90 kHz, from the camera's pts
    keyframe: bool
    ntp_time: int  # when it was sent (64-bit NTP), for the sender reports
    abs_send_time: bytes  # the same in 6.18 fixed-point seconds, as the abs-send-time header extension carries it
    runs: list[tuple[int, int]]  # packets sent by one GSO call each: the same for every viewer (same header sizes)


class Packetizer:
    """H.264 access units (Annex B) into RTP payloads (RFC 6184: single NAL, STAP-A, FU-A), once per camera stream."""

    def __init__(self) -> None:
        self._encoder = H264Encoder()  # only its packetizer is used: nothing is encoded

    def frame(self, packet: av.Packet) -> CameraFrame:
        payloads, timestamp = self._encoder.pack(packet)
        now = current_ntp_time()
        return CameraFrame(payloads, timestamp, bool(packet.is_keyframe), now, ((now >> 14) & 0xFFFFFF).to_bytes(3, "big"),
                           batches([len(p) for p in payloads]))


def _extension_template(extensions: list[RTCRtpHeaderExtensionParameters], mid: str | None) -> tuple[bytes, int]:
    """The RTP header extension block every packet of a viewer carries (mid, abs-send-time), and where in it the
    3 bytes of abs-send-time go (0 when the browser did not ask for it)."""
    ids = {e.uri: e.id for e in extensions}
    elements = []
    if ABS_SEND_TIME in ids:
        elements.append((ids[ABS_SEND_TIME], b"\0\0\0"))  # first: its place is fixed
    if SDES_MID in ids and mid:
        elements.append((ids[SDES_MID], mid.encode()))
    if not elements:
        return b"", 0
    profile, value = pack_header_extensions(elements)
    one_byte = profile == 0xBEDE
    at = (_EXT_HEADER.size + (1 if one_byte else 2)) if ABS_SEND_TIME in ids else 0
    return _EXT_HEADER.pack(profile, len(value) >> 2) + value, at


class ViewerLink:
    """One viewer's RTP stream: its SSRC, sequence numbers and RTP clock offset, its SRTP session and its socket.

    Sends nothing until the connection is up and a keyframe comes (frames before it cannot be decoded)."""

    def __init__(self, pc: RTCPeerConnection, sender: RTCRtpSender, on_gone: Callable[[], None]) -> None:
        video = next(m for m in SessionDescription.parse(pc.localDescription.sdp).media if m.kind == "video")
        self.payload_type = video.rtp.codecs[0].payloadType
        self._tail, self._abs_at = _extension_template(video.rtp.headerExtensions, video.rtp.muxId)
        self.sender = sender
        self.ssrc = sender._ssrc  # noqa: SLF001 - the SSRC aiortc announced in the answer
        self.on_gone = on_gone
        self.started = False
        self.sent = self.resent = self.dropped = 0  # RTP packets
        self._seq = random.randint(0, 0xFFFF)
        self._ts_origin = random.randint(0, 0xFFFFFFFF)
        self._octets = 0
        self._history: list[tuple[int, bytes] | None] = [None] * HISTORY
        self._sock: socket.socket | None = None
        self._pair: object = None
        self._cached: tuple[object, socket.socket | None, object, tuple[str, int]] | None = None
        # NACKs reach the sender's RTCP handler, which resends from its own history (empty: it never sent): from ours
        sender._retransmit = self._retransmit  # type: ignore[method-assign]  # noqa: SLF001
        self._account_names = [f"_RTCRtpSender__{n}" for n in ("ntp_timestamp", "rtp_timestamp", "packet_count",
                                                                  "octet_count")]  # fmt: skip
        missing = [n for n in self._account_names if not hasattr(sender, n)]
        if missing:
            raise RuntimeError(f"this aiortc release has no {missing}: the live fan-out needs updating")

    # --- where packets go -----------------------------------------------------------------------------------------

    def _route(self) -> tuple[object, socket.socket | None, object, tuple[str, int]] | None:
        """(SRTP session, socket, asyncio transport, address) once DTLS is up, else None. Per frame: kept while the
        selected candidate pair stays the same."""
        dtls = self.sender.transport
        if dtls._state is not DtlsState.CONNECTED:  # noqa: SLF001 - the public `state` formats a string each time
            return None
        pair = dtls.transport._connection._nominated.get(1)  # noqa: SLF001 - aioice's selected candidate pair
        if pair is None:
            return None
        if pair is not self._pair:
            transport = pair.protocol.transport
            self._close_socket()
            # a second handle on the same UDP socket, for sendmsg (asyncio's wrapper offers only sendto)
            sock = socket.socket(fileno=os.dup(transport.get_extra_info("socket").fileno()))
            sock.setblocking(False)
            self._sock, self._pair = sock, pair
            self._cached = (dtls._tx_srtp, sock, transport, pair.remote_addr)  # noqa: SLF001
        return self._cached

    def _close_socket(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock, self._pair, self._cached = None, None, None

    # --- sending --------------------------------------------------------------------------------------------------

    def send(self, frame: CameraFrame) -> None:
        if not self.started and not frame.keyframe:
            return
        route = self._route()
        if route is None:
            return
        self.started = True
        srtp, sock, transport, addr = route
        tail, at = self._tail, self._abs_at
        if at:
            tail = tail[:at] + frame.abs_send_time + tail[at + 3 :]
        first = 0x90 if tail else 0x80
        timestamp = (self._ts_origin + frame.timestamp) & 0xFFFFFFFF
        payloads, last = frame.payloads, len(frame.payloads) - 1
        seq, history, protected, octets = self._seq, self._history, [], 0
        pack, protect, pt, ssrc = _HEADER.pack, srtp.protect, self.payload_type, self.ssrc  # type: ignore[attr-defined]
        for i, payload in enumerate(payloads):
            data = protect(pack(first, pt | 0x80 if i == last else pt, seq, timestamp, ssrc) + tail + payload)
            history[seq % HISTORY] = (seq, data)
            protected.append(data)
            octets += len(payload)
            seq = (seq + 1) & 0xFFFF
        self._seq = seq
        self.sent += len(protected)
        self._octets += octets
        self._transmit(protected, sock, transport, addr, frame.runs)
        # what the sender's RTCP sender reports say: what went out, and which RTP time is now
        for name, value in zip(self._account_names, (frame.ntp_time, timestamp, self.sent, self._octets)):
            setattr(self.sender, name, value)

    def _transmit(self, packets: list[bytes], sock: socket.socket | None, transport: object, addr: tuple[str, int],
                  runs: list[tuple[int, int]] | None = None) -> None:  # fmt: skip
        if sock is None or transport.get_write_buffer_size():  # type: ignore[attr-defined]
            for data in packets:  # asyncio holds unsent data: keep the order behind it
                transport.sendto(data, addr)  # type: ignore[attr-defined]
            return
        for at, end in (runs or batches([len(p) for p in packets])) if _gso["works"] else singles(len(packets)):
            self._send_batch(sock, packets[at:end], addr)

    def _send_batch(self, sock: socket.socket, packets: list[bytes], addr: tuple[str, int]) -> None:
        try:
            if len(packets) > 1:
                option = struct.pack("H", len(packets[0]))  # UDP GSO: the kernel cuts the buffer into packets
                sock.sendmsg([b"".join(packets)], [(socket.SOL_UDP, UDP_SEGMENT, option)], 0, addr)
            else:
                sock.sendto(packets[0], addr)
        except BlockingIOError:
            self.dropped += len(packets)  # the socket's buffer is full: UDP drops, the viewer NACKs or waits
        except OSError as exc:
            if len(packets) > 1 and exc.errno in (errno.EINVAL, errno.EIO, errno.ENOPROTOOPT, errno.EOPNOTSUPP):
                _gso["works"] = False
                logger.info("live: UDP segmentation offload refused (%s): one packet per system call", exc)
                for data in packets:
                    self._send_batch(sock, [data], addr)
                return
            self.dropped += len(packets)
            logger.debug("live: sending to %s failed: %s", addr, exc)

    async def _retransmit(self, sequence_number: int) -> None:
        kept = self._history[sequence_number % HISTORY]
        route = self._route()
        if kept is None or kept[0] != sequence_number or route is None:
            return
        _, sock, transport, addr = route
        self.resent += 1
        self._transmit([kept[1]], sock, transport, addr)

    def close(self) -> None:
        self._close_socket()
