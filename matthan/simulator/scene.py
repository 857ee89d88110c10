"""The simulated street's timetable: what moves when, as a pure function of wall-clock UTC time.

The footage loops every CYCLE_SECONDS and the RTSP server aligns the loop to the UTC epoch, so the known motion and
still intervals of any simulated camera can be computed by tests and the demo without asking the simulator.
This module must stay importable by the system Python (stdlib only): the RTSP server imports it too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CYCLE_SECONDS = 40
FPS = 15


@dataclass(frozen=True)
class Crossing:
    """One object crossing the frame inside each cycle, from `start` to `end` seconds into the cycle."""

    kind: str  # "motorbike" or "person"
    start: float
    end: float
    # vertical position of the object's ground line, as a fraction of the frame height
    ground: float
    left_to_right: bool


CROSSINGS: tuple[Crossing, ...] = (
    Crossing(kind="motorbike", start=8.0, end=15.0, ground=0.80, left_to_right=True),
    Crossing(kind="person", start=24.0, end=32.0, ground=0.93, left_to_right=False),
)


def crossing_at(cycle_time: float) -> tuple[Crossing, float] | None:
    """The crossing in progress `cycle_time` seconds into a cycle and its progress in [0, 1), or None when still."""
    for crossing in CROSSINGS:
        if crossing.start <= cycle_time < crossing.end:
            return crossing, (cycle_time - crossing.start) / (crossing.end - crossing.start)
    return None


def intervals(start: float, end: float, *, moving: bool) -> list[tuple[float, float]]:
    """Known motion (moving=True) or still (moving=False) intervals overlapping [start, end), as UTC epoch seconds."""
    marks: list[tuple[float, float]] = []
    first_cycle = math.floor(start / CYCLE_SECONDS) - 1
    last_cycle = math.floor(end / CYCLE_SECONDS) + 1
    for cycle in range(first_cycle, last_cycle + 1):
        base = cycle * CYCLE_SECONDS
        if moving:
            spans = [(base + c.start, base + c.end) for c in CROSSINGS]
        else:
            bounds = [0.0] + [x for c in CROSSINGS for x in (c.start, c.end)] + [float(CYCLE_SECONDS)]
            spans = [(base + bounds[i], base + bounds[i + 1]) for i in range(0, len(bounds), 2)]
        marks.extend((a, b) for a, b in spans if b > a and b > start and a < end)
    return marks
