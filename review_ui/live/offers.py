"""What offers the live hub can answer (H.264 video, ICE credentials), and the ICE host addresses to answer with."""

from __future__ import annotations

import contextvars

import aioice.ice
from aiortc import RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtpCodecCapability
from aiortc.sdp import SessionDescription

LOOPBACK = "127.0.0.1"
# aioice never gathers 127.0.0.1. A browser on this very machine started with --allow-loopback-in-peer-connection
# offers loopback candidates; answering it needs one too, or a machine with no other interface cannot connect.
# Only such an offer turns it on (per connection, through this context variable); a real browser never sends one.
WITH_LOOPBACK: contextvars.ContextVar[bool] = contextvars.ContextVar("live_with_loopback", default=False)
_aioice_host_addresses = aioice.ice.get_host_addresses


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    found = _aioice_host_addresses(use_ipv4, use_ipv6)
    if use_ipv4 and WITH_LOOPBACK.get() and LOOPBACK not in found:
        found.append(LOOPBACK)
    return found


aioice.ice.get_host_addresses = _host_addresses


def check_offer(sdp: str) -> bool:
    """ValueError unless `sdp` is an offer we can answer (a video section offering H.264 packetization-mode 1).
    Returns whether it offers a loopback candidate (a browser on this machine, as in the tests)."""
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc's parser raises whatever a malformed line triggers
        raise ValueError(f"the SDP offer cannot be parsed ({type(exc).__name__})") from None
    video = [m for m in parsed.media if m.kind == "video"]
    if not video:
        raise ValueError("the SDP offer has no video section")
    if not any(c.mimeType.lower() == "video/h264" and str(c.parameters.get("packetization-mode")) == "1"
               for c in video[0].rtp.codecs):  # fmt: skip
        raise ValueError("the browser offers no H.264 (packetization-mode 1): live video needs it; "
                         "the page falls back to snapshots")
    ice = video[0].ice
    if ice is None or not ice.usernameFragment or not ice.password:
        raise ValueError("the SDP offer has no ICE credentials (a=ice-ufrag / a=ice-pwd)")
    return any(c.ip == LOOPBACK for m in parsed.media for c in m.ice_candidates)


def h264_codecs() -> list[RTCRtpCodecCapability]:
    return [c for c in RTCRtpSender.getCapabilities("video").codecs
            if c.mimeType == "video/H264" and c.parameters.get("packetization-mode") == "1"]  # fmt: skip
