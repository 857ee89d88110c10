"""The live fan-out's packet work, checked against aiortc's own RTP parser and a real UDP socket (the end-to-end
path, viewers decoding what it sends, is in test_live.py)."""

from __future__ import annotations

import socket
import struct

import pytest
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from review_ui.live.fanout import ABS_SEND_TIME, GSO_MAX_SEGMENTS, SDES_MID, UDP_SEGMENT, _extension_template, batches


def test_gso_runs_are_equal_sizes_with_a_shorter_last_one() -> None:
    # aiortc's FU-A fragments of one NAL unit: the first ones one byte longer
    assert batches([1201, 1201, 1200, 1200]) == [(0, 3), (3, 4)]
    assert batches([1200, 1200, 1200, 640]) == [(0, 4)]
    assert batches([40, 1200, 1200, 900, 60]) == [(0, 1), (1, 4), (4, 5)]  # STAP-A (SPS+PPS) alone, then the slice
    assert batches([300]) == [(0, 1)]
    assert batches([]) == []
    assert batches([1000] * 70) == [(0, GSO_MAX_SEGMENTS), (GSO_MAX_SEGMENTS, 70)]
    for sizes in ([5, 9, 9, 3], [1200] * 3 + [1201] * 2):
        for at, end in batches(sizes):
            assert all(s == sizes[at] for s in sizes[at:end - 1]) and sizes[end - 1] <= sizes[at]
        # worked out once per frame from the payloads: every viewer's header and SRTP tag add the same to each
        assert batches([s + 12 + 16 + 10 for s in sizes]) == batches(sizes)


@pytest.mark.parametrize("abs_id, mid_id", [(3, 4), (2, 15), (None, 1), (5, None)])
def test_header_extensions_parse_back_as_aiortc_reads_them(abs_id: int | None, mid_id: int | None) -> None:
    uris = {abs_id: ABS_SEND_TIME, mid_id: SDES_MID}
    extensions = [RTCRtpHeaderExtensionParameters(id=i, uri=u) for i, u in uris.items() if i is not None]
    tail, at = _extension_template(extensions, "1")
    abs_send_time = 0xABCDEF
    if at:
        tail = tail[:at] + abs_send_time.to_bytes(3, "big") + tail[at + 3 :]
    data = struct.pack("!BBHII", 0x90, 0x80 | 102, 7, 90000, 1234) + tail + b"payload"
    reader = HeaderExtensionsMap()
    reader.configure(RTCRtpParameters(headerExtensions=extensions))
    packet = RtpPacket.parse(data, reader)
    assert (packet.payload, packet.sequence_number, packet.marker, packet.payload_type) == (b"payload", 7, 1, 102)
    assert packet.extensions.abs_send_time == (abs_send_time if abs_id else None)
    assert packet.extensions.mid == ("1" if mid_id else None)


def test_no_extensions_no_block() -> None:
    assert _extension_template([], "0") == (b"", 0)


def test_this_kernel_cuts_a_gso_send_into_the_packets() -> None:
    """What the fan-out relies on to send a frame in one system call (it falls back to one call per packet if not)."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(2)
        packets = [bytes([i]) * 1200 for i in range(3)] + [b"\xff" * 300]
        tx.sendmsg([b"".join(packets)], [(socket.SOL_UDP, UDP_SEGMENT, struct.pack("H", 1200))], 0, rx.getsockname())
        assert [rx.recv(65536) for _ in packets] == packets
    finally:
        rx.close()
        tx.close()
