"""Camera leases: several ingest nodes share the cameras through rows in the database, with heartbeats and fencing.

Each node, every few seconds: renews the leases it holds (compare-and-set on node + token), heartbeats, and takes
cameras whose lease is missing or expired up to its fair share (enabled cameras / live nodes, rounded up), one
compare-and-set per camera, so two nodes never both win one. A taking raises the camera's token; every write for a
camera carries its token and is refused when the token is no longer current (`check_fence`). A dead node's leases
expire after one lease period and the others take its cameras.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.errors import StorageError
from storage.models import Camera, CameraLease, IngestNode, utcnow


class LeaseLost(StorageError):
    """This node no longer holds the camera it wants to write for."""


@dataclass(frozen=True)
class Fence:
    """What a node was granted for one camera; None token = the node holds no lease for it now."""

    camera_id: int
    node: str
    token: int | None


def heartbeat(*, session: Session, node: str, now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    row = session.get(IngestNode, node)
    if row is None:
        session.add(IngestNode(name=node, started_at=now, heartbeat_at=now))
    else:
        row.heartbeat_at = now
    session.flush()


def live_nodes(*, session: Session, period: dt.timedelta, now: dt.datetime | None = None) -> list[str]:
    now = now or utcnow()
    return list(session.scalars(select(IngestNode.name).where(IngestNode.heartbeat_at > now - period)
                                .order_by(IngestNode.name)))  # fmt: skip


def other_nodes(*, session: Session, node: str) -> list[str]:
    return list(session.scalars(select(IngestNode.name).where(IngestNode.name != node)))


def unleased_camera_ids(*, session: Session) -> set[int]:
    """Cameras no worker holds (disabled or retired ones, or all of them before any worker started)."""
    held = select(CameraLease.camera_id)
    return set(session.scalars(select(Camera.id).where(Camera.id.not_in(held))))


def held_by(*, session: Session, node: str) -> dict[int, int]:
    """camera id → token of the leases the database says this node holds (expired ones included)."""
    rows = session.execute(select(CameraLease.camera_id, CameraLease.token).where(CameraLease.node == node))
    return {camera_id: token for camera_id, token in rows}


def renew(*, session: Session, node: str, held: dict[int, int], period: dt.timedelta,
          now: dt.datetime | None = None) -> dict[int, int]:
    """Extend the leases still ours (same node and token: nobody took them, expired or not); returns those."""
    now = now or utcnow()
    kept = {}
    for camera_id, token in held.items():
        result = session.execute(update(CameraLease)
                                 .where(CameraLease.camera_id == camera_id, CameraLease.node == node,
                                        CameraLease.token == token)
                                 .values(expires_at=now + period))  # fmt: skip
        if result.rowcount == 1:
            kept[camera_id] = token
    return kept


def fair_share(*, session: Session, nodes: int) -> int:
    cameras = session.scalar(select(func.count()).select_from(Camera)
                             .where(Camera.enabled.is_(True), Camera.retired_at.is_(None))) or 0  # fmt: skip
    return math.ceil(cameras / max(1, nodes))


def acquire(*, session: Session, node: str, want: int, period: dt.timedelta,
            now: dt.datetime | None = None) -> dict[int, int]:
    """Take up to `want` cameras that nobody holds (no lease, or an expired one); returns camera id → new token."""
    now = now or utcnow()
    if want <= 0:
        return {}
    free = (select(Camera.id).outerjoin(CameraLease, CameraLease.camera_id == Camera.id)
            .where(Camera.enabled.is_(True), Camera.retired_at.is_(None),
                   (CameraLease.camera_id.is_(None)) | (CameraLease.expires_at <= now))
            .order_by(Camera.id))  # fmt: skip
    got: dict[int, int] = {}
    for camera_id in session.scalars(free):
        if len(got) >= want:
            break
        token = _take(session, camera_id=camera_id, node=node, period=period, now=now)
        if token is not None:
            got[camera_id] = token
    return got


def _take(session: Session, *, camera_id: int, node: str, period: dt.timedelta, now: dt.datetime) -> int | None:
    lease = session.get(CameraLease, camera_id, populate_existing=True)
    if lease is None:
        try:
            with session.begin_nested():  # another node inserting the same camera first: its insert wins
                session.add(CameraLease(camera_id=camera_id, node=node, token=1, acquired_at=now,
                                        expires_at=now + period))
                session.flush()
            return 1
        except IntegrityError:
            return None
    if lease.expires_at > now:
        return None
    # compare-and-set on the token we read: of two nodes racing for one expired lease, one update matches
    result = session.execute(update(CameraLease)
                             .where(CameraLease.camera_id == camera_id, CameraLease.token == lease.token,
                                    CameraLease.expires_at <= now)
                             .values(node=node, token=lease.token + 1, acquired_at=now, expires_at=now + period)
                             .execution_options(synchronize_session=False))  # fmt: skip
    return lease.token + 1 if result.rowcount == 1 else None


def release(*, session: Session, node: str, camera_id: int, token: int) -> None:
    """Give a camera up (its recording has stopped and its last segment is closed)."""
    session.execute(delete(CameraLease).where(CameraLease.camera_id == camera_id, CameraLease.node == node,
                                              CameraLease.token == token))  # fmt: skip


def check_fence(*, session: Session, fence: Fence, ends_at: dt.datetime | None = None) -> None:
    """Refuse a write for a camera this node does not hold. Allowed: the node holds the lease with the token it was
    granted (the row is locked for the rest of the transaction on PostgreSQL, so a taking waits for this write); or
    the footage ends before the present holder took the camera (a leftover of an earlier holder: it cannot overlap
    what the present holder records)."""
    lease = session.scalars(select(CameraLease).where(CameraLease.camera_id == fence.camera_id)
                            .with_for_update()).first()  # fmt: skip
    if lease is None:
        return  # nobody holds it: a stopped node's leftovers are history, and nobody else is recording
    if fence.token is not None and lease.node == fence.node and lease.token == fence.token:
        return
    if ends_at is not None and ends_at <= lease.acquired_at:
        return
    raise LeaseLost(f"camera {fence.camera_id} is held by {lease.node} (token {lease.token}) since "
                    f"{lease.acquired_at.isoformat()}; {fence.node} may not write for it")
