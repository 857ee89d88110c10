"""WebRTC viewers for bench_live.py, in their own process so their CPU is not the server's: aiortc peer connections
that log in, send an offer per camera and count the H.264 frames they receive (whole frames out of the jitter buffer).

They do not decode: decoding 42 streams would take more than the two cores the server shares with them. The
receiver's decoder is replaced by a counter (aiortc's own `get_decoder` hook), everything before it (ICE, DTLS,
SRTP, RTP depacketizing, jitter buffer, RTCP feedback) is aiortc's real receiving path.

Protocol on stdin/stdout, one line each: prints `READY <n>` once every viewer has received a frame, then for every
`MARK` line read prints a JSON list of [frames, bytes] received per viewer; `STOP` (or end of input) closes everything.

    python live_viewers.py --url http://127.0.0.1:PORT --username U --password P --per-camera K CAMERA...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading

import aiortc.rtcrtpreceiver
import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

READY_TIMEOUT_S = 60.0


class CountingDecoder:
    """Stands in for the H.264 decoder: counts the frames handed to it and whether the first was a keyframe."""

    instances: list[CountingDecoder] = []
    lock = threading.Lock()

    def __init__(self) -> None:
        self.frames = 0
        self.bytes = 0
        with CountingDecoder.lock:
            CountingDecoder.instances.append(self)

    def decode(self, encoded_frame: object) -> list[object]:
        self.frames += 1
        self.bytes += len(encoded_frame.data)  # type: ignore[attr-defined]
        return []


aiortc.rtcrtpreceiver.get_decoder = lambda codec: CountingDecoder()


async def viewer(client: httpx.AsyncClient, camera: str) -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    answer = await client.post(f"/api/live/{camera}/offer", json={"sdp": pc.localDescription.sdp, "stream": "sub"})
    answer.raise_for_status()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.json()["sdp"], type="answer"))
    return pc


async def main(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=args.url, timeout=60) as client:
        login = await client.post("/api/auth/login", json={"username": args.username, "password": args.password})
        login.raise_for_status()
        peers = []
        for _ in range(args.per_camera):  # one viewer per camera, then the next round: pulls open in the first
            peers += await asyncio.gather(*(viewer(client, camera) for camera in args.cameras))
    expected = len(peers)
    deadline = loop.time() + READY_TIMEOUT_S
    while len(CountingDecoder.instances) < expected or any(d.frames == 0 for d in CountingDecoder.instances):
        if loop.time() > deadline:
            print(f"NOT READY {sum(d.frames > 0 for d in CountingDecoder.instances)} of {expected}", flush=True)
            return 2
        await asyncio.sleep(0.1)
    print(f"READY {expected}", flush=True)
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line == "MARK":
            print(json.dumps([[d.frames, d.bytes] for d in CountingDecoder.instances]), flush=True)
        elif line in ("STOP", ""):
            break
    await asyncio.gather(*(pc.close() for pc in peers), return_exceptions=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--per-camera", type=int, default=1)
    parser.add_argument("cameras", nargs="+")
    sys.exit(asyncio.run(main(parser.parse_args())))
