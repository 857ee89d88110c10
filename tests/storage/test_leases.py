"""Camera leases on both databases: fair shares, compare-and-set takings, expiry, and fencing of every write."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from config.inventory import Inventory
from config.settings import Settings
from detect.events import EventWriter
from detect.motion import MotionStarted
from storage.credentials import CredentialCipher
from storage.db import Database
from storage.models import Camera, Event
from storage.objectstore import LocalObjectStore
from storage.repo.cameras import import_inventory
from storage.repo.leases import (Fence, LeaseLost, acquire, check_fence, fair_share, heartbeat, live_nodes, release,
                                 renew, unleased_camera_ids)

T0 = dt.datetime(2026, 11, 30, 3, 0, tzinfo=dt.UTC)
PERIOD = dt.timedelta(seconds=10)


@pytest.fixture
def cameras(db: Database, settings: Settings) -> list[int]:
    inventory = {"site": {"code": "thuan-quy", "name": "Xã Thuận Quý"}, "cameras": [
        {"code": f"cam-{i}", "name": f"Camera {i}", "main_url": f"rtsp://10.0.0.{i}/main"} for i in range(1, 6)]}
    with db.session() as s:
        import_inventory(session=s, inventory=Inventory.model_validate(inventory),
                         cipher=CredentialCipher(settings.security.credentials_key.get_secret_value()))
        return list(s.scalars(select(Camera.id).order_by(Camera.id)))


def test_fair_shares_and_one_winner_per_camera(db: Database, cameras: list[int]) -> None:
    with db.session() as s:
        for node in ("a", "b"):
            heartbeat(session=s, node=node, now=T0)
        assert live_nodes(session=s, period=PERIOD, now=T0) == ["a", "b"]
        share = fair_share(session=s, nodes=2)
        assert share == 3  # 5 cameras, 2 nodes
        assert unleased_camera_ids(session=s) == set(cameras)
        got_a = acquire(session=s, node="a", want=share, period=PERIOD, now=T0)
        assert unleased_camera_ids(session=s) == set(cameras) - set(got_a)
        got_b = acquire(session=s, node="b", want=share, period=PERIOD, now=T0)
        assert unleased_camera_ids(session=s) == set()
    assert len(got_a) == 3 and len(got_b) == 2 and not set(got_a) & set(got_b)
    assert set(got_a.values()) == {1}
    with db.session() as s:  # nothing is free any more
        assert acquire(session=s, node="c", want=5, period=PERIOD, now=T0 + dt.timedelta(seconds=5)) == {}
        # b dies: only a renews; once b's leases expire, c takes them with a new token
        assert renew(session=s, node="a", held=got_a, period=PERIOD, now=T0 + dt.timedelta(seconds=5)) == got_a
        later = T0 + dt.timedelta(seconds=11)
        taken = acquire(session=s, node="c", want=5, period=PERIOD, now=later)
    assert set(taken) == set(got_b) and set(taken.values()) == {2}
    with db.session() as s:  # b comes back: its old tokens renew nothing
        assert renew(session=s, node="b", held=got_b, period=PERIOD, now=later) == {}


def test_fencing_refuses_a_stale_token_but_lets_earlier_footage_through(db: Database, cameras: list[int]) -> None:
    camera = cameras[0]
    with db.session() as s:
        token_a = acquire(session=s, node="a", want=1, period=PERIOD, now=T0)[camera]
    with db.session() as s:
        check_fence(session=s, fence=Fence(camera, "a", token_a))  # the holder writes
    taken_at = T0 + dt.timedelta(seconds=20)
    with db.session() as s:
        token_c = acquire(session=s, node="c", want=1, period=PERIOD, now=taken_at)[camera]
    assert token_c == token_a + 1
    with db.session() as s, pytest.raises(LeaseLost, match="held by c"):
        check_fence(session=s, fence=Fence(camera, "a", token_a))
    with db.session() as s:  # a's footage from before c took over may still go up; footage after may not
        check_fence(session=s, fence=Fence(camera, "a", None), ends_at=taken_at - dt.timedelta(seconds=1))
    with db.session() as s, pytest.raises(LeaseLost):
        check_fence(session=s, fence=Fence(camera, "a", None), ends_at=taken_at + dt.timedelta(seconds=1))
    with db.session() as s:  # released: nobody holds it, nothing to fence
        release(session=s, node="c", camera_id=camera, token=token_c)
    with db.session() as s:
        check_fence(session=s, fence=Fence(camera, "a", None))


def test_an_event_writer_that_lost_its_camera_writes_nothing(db: Database, cameras: list[int], tmp_path) -> None:  # type: ignore[no-untyped-def]
    camera = cameras[1]
    with db.session() as s:
        held = {"token": acquire(session=s, node="a", want=2, period=PERIOD, now=T0)[camera]}
    writer = EventWriter(camera_id=camera, camera_code="cam-2", db=db, store=LocalObjectStore(tmp_path),
                         fence=lambda: Fence(camera, "a", held["token"]))
    writer.handle(MotionStarted(at=T0.timestamp() + 1))
    with db.session() as s:
        assert camera in acquire(session=s, node="b", want=2, period=PERIOD, now=T0 + dt.timedelta(seconds=30))
    with pytest.raises(LeaseLost):
        writer.handle(MotionStarted(at=T0.timestamp() + 40))
    with db.session() as s:
        assert len(s.scalars(select(Event).where(Event.camera_id == camera)).all()) == 1
