"""Free ports of 127.0.0.1 for the servers the tests start themselves, safe when the suite runs on several xdist
workers and when a test stops a server on purpose and starts it again on the same port."""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

# Below the kernel's ephemeral range (ip_local_port_range, 32768-60999 on Debian): the kernel never gives one of these
# ports to a socket by itself (a bind to port 0, an outgoing connection), so a port is taken only by whoever picks it.
LOWEST = 10000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port() -> int:
    """A port nobody listens on now and that nothing else takes while it is ours: a camera switched off for 30 s or an
    object store down for 2 minutes gets its port back. Each xdist worker draws from its own slice of the range, so
    two workers never pick the same port."""
    low, high = _reserved_range()
    if high - low < 1000:  # an unusual kernel setting leaves no room below the ephemeral range: let the kernel choose
        return _bind(0)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    count = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    span = (high - low) // count
    first = low + (index % count) * span
    for _ in range(100):
        port = random.randrange(first, first + span)
        try:
            return _bind(port)
        except OSError:
            continue  # in use by something else: draw again
    raise RuntimeError(f"no free port in {first}-{first + span - 1} of 127.0.0.1")


def _reserved_range() -> tuple[int, int]:
    try:
        ephemeral_low = int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    return LOWEST, ephemeral_low


def _bind(port: int) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
        return sock.getsockname()[1]
