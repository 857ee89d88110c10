"""The least CPU any server pays, on this machine, to deliver extra live viewers' packets: bench_live.py's reference.

bench_live.py measures what going from 1 to 3 viewers per camera adds to the web server. Whatever the server is
written in (aiortc, a compiled SFU such as mediamtx or Janus), every extra viewer's packets must be encrypted (SRTP:
AES-128 counter mode + HMAC-SHA1, per viewer, as each has its own keys) and handed to the kernel. This script does only
that, with nothing else around it, at the packet rate and size the bench measured:

- the sending: a minimal sender, pinned to the server's CPU, sends each viewer's frame in one UDP GSO `sendmsg` (the
  cheapest way Linux offers; one `sendto` per packet is also measured) to its own socket in a receiver process pinned
  to the viewers' CPUs, over loopback as in the bench. The sender's CPU counts, the receiver's does not (on
  loopback the kernel charges much of the receive path to the sender, as it does to the server in the bench).
- the crypto: AES-128-CTR and HMAC-SHA1 of a packet, in C (OpenSSL, through `cryptography` and `hmac`), per packet.

Prints one JSON line: {"sending_gso": cores, "sending_sendto": cores, "crypto": cores, "crypto_us": µs per packet}.

    python live_floor.py --viewers 28 --packets-per-s 85 --size 1200 --seconds 20 [--fps 15]
        [--sender-cpus 0] [--receiver-cpus 1]
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import selectors
import socket
import struct
import sys
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

UDP_SEGMENT = 103  # linux/udp.h


def receive(count: int, cpus: set[int] | None, ready: int, stop_after: float) -> None:
    """Child process: `count` sockets that read and drop what arrives, as viewers would read it."""
    if cpus:
        os.sched_setaffinity(0, cpus)
    sockets = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.setblocking(False)
        sockets.append(sock)
    os.write(ready, json.dumps([s.getsockname()[1] for s in sockets]).encode() + b"\n")
    os.close(ready)
    selector = selectors.DefaultSelector()
    for sock in sockets:
        selector.register(sock, selectors.EVENT_READ)
    deadline = time.monotonic() + stop_after
    while time.monotonic() < deadline:
        for key, _ in selector.select(0.5):
            try:
                while True:
                    key.fileobj.recv(65536)  # type: ignore[union-attr]
            except BlockingIOError:
                pass


def send(ports: list[int], per_frame: float, size: int, fps: float, seconds: float, gso: bool) -> float:
    """Sends every viewer's frame of packets at `fps` for `seconds`; returns the sender's CPU in cores.

    All of it, kernel and user, from the scheduler's exact count: the kernel/user split is sampled at the timer tick
    and at this load (well under 1 % of a core) varied by 10x between runs. The user part, a Python loop around one
    system call per viewer-frame, is the smaller one, so this slightly overstates the kernel's floor."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in ports]
    for sock in sockets:
        sock.setblocking(False)
    payload = bytes(size) * (int(per_frame) + 1)
    option = [(socket.SOL_UDP, UDP_SEGMENT, struct.pack("H", size))]
    owed = 0.0
    before, start = time.process_time(), time.monotonic()
    due = start
    while due - start < seconds:
        owed += per_frame  # a fractional mean of packets per frame: carried over to the next frame
        count, owed = int(owed), owed - int(owed)
        data = payload[: count * size]
        for sock, port in zip(sockets, ports):
            try:
                if gso:
                    sock.sendmsg([data], option, 0, ("127.0.0.1", port))
                else:
                    for at in range(0, len(data), size):
                        sock.sendto(data[at : at + size], ("127.0.0.1", port))
            except BlockingIOError:
                pass  # the receiver fell behind: as a server would, drop
        due += 1.0 / fps
        time.sleep(max(0.0, due - time.monotonic()))
    used, elapsed = time.process_time() - before, time.monotonic() - start
    for sock in sockets:
        sock.close()
    return used / elapsed


def crypto_us(size: int, megabytes: int = 64) -> float:
    """µs per packet of `size` bytes for SRTP's two C primitives, AES-128 in counter mode and HMAC-SHA1, measured on
    1 MB buffers so that no Python call overhead is counted: what compiled code pays at least."""
    key, block = os.urandom(16), os.urandom(1 << 20)
    encryptor = Cipher(algorithms.AES(key), modes.CTR(os.urandom(16))).encryptor()
    start = time.process_time()
    for _ in range(megabytes):
        hmac.digest(key, encryptor.update(block), "sha1")
    return 1e6 * (time.process_time() - start) / (megabytes << 20) * size


def cpus(text: str) -> set[int] | None:
    return {int(c) for c in text.split(",")} if text else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, required=True)
    parser.add_argument("--packets-per-s", type=float, required=True, help="per viewer")
    parser.add_argument("--size", type=int, required=True, help="bytes per packet on the wire (RTP + SRTP tag)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--sender-cpus", default="", help="e.g. 0 (default: no pinning)")
    parser.add_argument("--receiver-cpus", default="")
    args = parser.parse_args(argv)
    if args.viewers < 1 or args.packets_per_s <= 0 or not 12 < args.size <= 65000:
        parser.error("need --viewers ≥ 1, --packets-per-s > 0 and 12 < --size ≤ 65000")
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read)
        try:
            receive(args.viewers, cpus(args.receiver_cpus), write, 2 * args.seconds + 10)
        finally:
            os._exit(0)
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            ports = json.loads(pipe.readline())
        if args.sender_cpus:
            os.sched_setaffinity(0, cpus(args.sender_cpus))
        per_frame = args.packets_per_s / args.fps
        sending_gso = send(ports, per_frame, args.size, args.fps, args.seconds, gso=True)
        sending_sendto = send(ports, per_frame, args.size, args.fps, args.seconds, gso=False)
    finally:
        os.kill(child, 9)
        os.waitpid(child, 0)
    per_packet = crypto_us(args.size)
    print(json.dumps({"sending_gso": sending_gso, "sending_sendto": sending_sendto,
                      "crypto": per_packet * args.packets_per_s * args.viewers / 1e6, "crypto_us": per_packet}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
