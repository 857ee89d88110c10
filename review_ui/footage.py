"""Footage search: a camera's recorded coverage over a day in slots, and any range of it as one MP4 (stream copy).

Ranges are built from the recorded segments (each checked against its SHA-256) into a small on-disk cache, so the
browser's Range requests while playing and seeking are served from one file."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.clips import SegmentRef, build_clip
from storage.db import end_transaction
from storage.errors import NotFound
from storage.models import Event, Segment
from storage.objectstore import ObjectStore
from storage.repo.segments import segments_between

SLOT = dt.timedelta(minutes=10)
JOINED = dt.timedelta(seconds=2)  # segments this close are one recording (each is stamped with the wall clock at open)
PLAY_WINDOW = dt.timedelta(minutes=10)  # "play from this minute" plays this much; the player seeks inside it
MAX_RANGE = dt.timedelta(hours=2)  # one download; longer stretches in several
CACHE_KEEP_S = 3600.0
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass
class Slot:
    start: dt.datetime  # UTC
    end: dt.datetime
    recorded_s: float = 0.0
    events: list[tuple[int, str]] = field(default_factory=list)  # (event id, kind)

    @property
    def coverage(self) -> str:
        share = self.recorded_s / (self.end - self.start).total_seconds()
        return "full" if share >= 0.98 else "none" if share <= 0.02 else "part"


@dataclass(frozen=True)
class Span:
    """A stretch of recorded time inside a played window (UTC)."""

    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class Nearest:
    """The recordings either side of a window with nothing in it: the end of the last before, the start of the first
    after (UTC), None where the camera has none."""

    before: dt.datetime | None
    after: dt.datetime | None


def _utc(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Recorded:
    """What the MP4 of a window holds. It joins the window's segments end to end, so its timeline is `pieces` (each
    segment's part inside the window) one after another: 0:00 is the first piece's start, and gaps are skipped."""

    pieces: list[Span]
    spans: list[Span] = field(init=False)  # the pieces joined where segments meet: what the reader is told

    def __post_init__(self) -> None:
        spans: list[Span] = []
        for piece in self.pieces:
            if spans and piece.start <= spans[-1].end + JOINED:
                spans[-1] = Span(spans[-1].start, max(spans[-1].end, piece.end))
            else:
                spans.append(piece)
        object.__setattr__(self, "spans", spans)

    @property
    def length(self) -> dt.timedelta:
        return sum((p.end - p.start for p in self.pieces), dt.timedelta(0))

    @property
    def gaps(self) -> list[Span]:
        return [Span(a.end, b.start) for a, b in zip(self.spans, self.spans[1:])]


def _recorded(rows: list[Segment], start: dt.datetime, end: dt.datetime) -> Recorded:
    clipped = ((max(_utc(seg.start_at), start), min(_utc(seg.end_at), end)) for seg in rows)
    return Recorded([Span(a, b) for a, b in clipped if b > a])


def recorded(*, session: Session, camera_id: int, start: dt.datetime, end: dt.datetime) -> Recorded:
    """The recorded stretches of [start, end) as its MP4 will hold them (no pieces: nothing to play)."""
    return _recorded(segments_between(session=session, camera_id=camera_id, start=start, end=end), start, end)


def nearest_recordings(*, session: Session, camera_id: int, start: dt.datetime, end: dt.datetime) -> Nearest:
    """The recordings closest to an unrecorded [start, end): one indexed row each side, on any day."""
    before = session.scalars(select(Segment.end_at).where(Segment.camera_id == camera_id, Segment.start_at < start)
                             .order_by(Segment.start_at.desc()).limit(1)).first()  # fmt: skip
    after = session.scalars(select(Segment.start_at).where(Segment.camera_id == camera_id, Segment.start_at >= end)
                            .order_by(Segment.start_at).limit(1)).first()  # fmt: skip
    return Nearest(before=_utc(before) if before else None, after=_utc(after) if after else None)


def timeline(*, session: Session, camera_id: int, start: dt.datetime, end: dt.datetime) -> list[Slot]:
    """Slots of SLOT from start to end with the seconds recorded in each and the events starting in each."""
    slots = []
    at = start
    while at < end:
        slots.append(Slot(at, min(at + SLOT, end)))
        at += SLOT

    def index(when: dt.datetime) -> int:
        return int((when - start) / SLOT)

    for seg in segments_between(session=session, camera_id=camera_id, start=start, end=end):
        a, b = max(_utc(seg.start_at), start), min(_utc(seg.end_at), end)
        for i in range(index(a), min(index(b - dt.timedelta(microseconds=1)), len(slots) - 1) + 1):
            slot = slots[i]
            slot.recorded_s += max(0.0, (min(b, slot.end) - max(a, slot.start)).total_seconds())
    events = session.execute(select(Event.id, Event.kind, Event.start_at).where(
        Event.camera_id == camera_id, Event.start_at >= start, Event.start_at < end).order_by(Event.start_at))
    for event_id, kind, at in events:
        slots[index(_utc(at))].events.append((event_id, kind))
    return slots


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def footage_file(*, session: Session, store: ObjectStore, camera_id: int, start: dt.datetime, end: dt.datetime,
                 cache_dir: Path) -> Path:  # fmt: skip
    """An MP4 of [start, end) of one camera, built once by stream copy from its segments and cached for an hour."""
    if end <= start:
        raise ValueError("end must be after start")
    if end - start > MAX_RANGE:
        raise ValueError(f"at most {MAX_RANGE.total_seconds() / 3600:g} hours at once; download a longer stretch "
                         "in several parts")  # fmt: skip
    rows = segments_between(session=session, camera_id=camera_id, start=start, end=end)
    if not rows:
        raise NotFound("nothing was recorded by this camera in that time (the camera was offline, or the footage "
                       "is older than its retention)")  # fmt: skip
    refs = [SegmentRef.from_row(r) for r in rows]
    inside = _recorded(rows, start, end)
    # The cut runs for the recorded length only: gaps are skipped, so cutting end - start would run past the window.
    first = inside.pieces[0].start
    last = first + inside.length
    end_transaction(session)  # the build reads the store and runs ffmpeg (seconds): no database lock held meanwhile
    identity = f"v2|{camera_id}|{start.isoformat()}|{end.isoformat()}|" + "|".join(f"{r.key}:{r.sha256}" for r in refs)
    name = hashlib.sha256(identity.encode()).hexdigest()[:32] + ".mp4"
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / name
    with _lock(name):
        if target.exists():
            os.utime(target)
            return target
        _sweep(cache_dir)
        partial = cache_dir / f".{name}.{threading.get_ident()}.mp4"
        try:
            build_clip(store=store, segments=refs, start=first, end=last, out=partial)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return target


def _sweep(cache_dir: Path) -> None:
    cutoff = time.time() - CACHE_KEEP_S
    for old in cache_dir.glob("*.mp4"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            pass
