"""The queue that brings object-store legal holds in line with the database (storage.repo.holds), on SQLite and a real
PostgreSQL, with the local object store: what a pass applies, what it keeps when the store refuses, and the upgrade
that queues evidence tagged before the queue existed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import select

from config.inventory import Inventory
from config.settings import Settings
from storage.credentials import CredentialCipher
from storage.db import MIGRATIONS, Database, make_engine, migrate
from storage.models import Evidence, HoldSync, Segment
from storage.objectstore import LocalObjectStore
from storage.repo.cameras import get_camera, import_inventory
from storage.repo.cases import create_case
from storage.repo.events import create_event, finish_event, set_event_clip
from storage.repo.holds import pending_hold_keys, queue_held_objects, queue_hold_sync, sync_object_holds
from storage.repo.segments import add_segment, hold_segments
from storage.repo.users import create_user

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
INVENTORY = {"site": {"code": "xa-an-binh", "name": "Xã An Bình"},
             "cameras": [{"code": "cho", "name": "Chợ", "main_url": "rtsp://10.0.0.9:554/s1"}]}


def seed(db: Database, settings: Settings, store: LocalObjectStore | None, count: int) -> list[str]:
    """`count` one-minute segments of one camera (in the store too, when given); returns their keys."""
    keys = []
    with db.session() as s:
        import_inventory(session=s, inventory=Inventory.model_validate(INVENTORY),
                         cipher=CredentialCipher(settings.security.credentials_key.get_secret_value()))
        camera_id = get_camera(session=s, code="cho").id
        for i in range(count):
            start = T0 + dt.timedelta(minutes=i)
            key = f"segments/cho/{start:%Y/%m/%d/%H/%Y%m%dT%H%M%SZ}.ts"
            if store is not None:
                store.put_bytes(key, b"footage %d" % i)
            add_segment(session=s, camera_id=camera_id, start_at=start, end_at=start + dt.timedelta(minutes=1),
                        object_key=key, size=9, sha256="0" * 64)
            keys.append(key)
    return keys


def test_a_pass_applies_the_database_answer_and_keeps_what_the_store_refuses(db: Database, settings: Settings,
                                                                            tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    keys = seed(db, settings, store, 5)
    held, refused_one = keys[:3], keys[4]
    with db.session() as s:
        segments = {key: sid for key, sid in s.execute(select(Segment.object_key, Segment.id))}
        hold_segments(session=s, segment_ids=[segments[k] for k in held])
        queue_hold_sync(session=s, keys=keys[:4])
    store.set_legal_hold(keys[3], True)  # held in the store, not in the database: the pass lifts it

    report = sync_object_holds(db=db, store=store, batch_size=2)  # several batches
    assert (report.applied, report.skipped, report.refused, report.stopped) == (4, 0, (), None)
    assert [store.legal_hold(k) for k in keys] == [True, True, True, False, False]
    with db.session() as s:
        assert pending_hold_keys(session=s) == []

    # A store that refuses: the key stays queued with the error, the others still go, and the pass ends.
    (tmp_path / "objects" / ".legal-hold").rename(tmp_path / "holds-moved")
    (tmp_path / "objects" / ".legal-hold").write_bytes(b"not a directory")
    with db.session() as s:
        hold_segments(session=s, segment_ids=[segments[refused_one]])
        queue_hold_sync(session=s, keys=[refused_one])
    report = sync_object_holds(db=db, store=store)
    assert report.refused == (refused_one,) and report.applied == 0
    with db.session() as s:
        [row] = s.scalars(select(HoldSync)).all()
        assert (row.object_key, row.attempts) == (refused_one, 1)
        assert "cannot set the legal hold" in row.last_error
        queue_hold_sync(session=s, keys=[refused_one])  # queued again: a fresh start
    with db.session() as s:
        assert s.scalars(select(HoldSync.attempts)).all() == [0]

    (tmp_path / "objects" / ".legal-hold").unlink()
    (tmp_path / "holds-moved").rename(tmp_path / "objects" / ".legal-hold")
    report = sync_object_holds(db=db, store=store)
    assert report.applied == 1 and store.legal_hold(refused_one)
    with db.session() as s:
        assert pending_hold_keys(session=s) == []


def test_every_database_hold_can_be_queued_again(db: Database, settings: Settings, tmp_path: Path) -> None:
    # What a worker does at start: holds the store lost (a restore, a new bucket) come back from the database.
    store = LocalObjectStore(tmp_path / "objects")
    keys = seed(db, settings, store, 3)
    with db.session() as s:
        hold_segments(session=s, segment_ids=list(s.scalars(select(Segment.id).where(Segment.object_key != keys[2]))))
        queue_hold_sync(session=s, keys=[keys[1]])
        s.scalars(select(HoldSync)).one().attempts = 3  # queued already, tried before: queueing all leaves it alone
        s.flush()
        queue_held_objects(session=s)
        queue_held_objects(session=s)  # and twice is once
        assert {r.object_key: r.attempts for r in s.scalars(select(HoldSync))} == {keys[0]: 0, keys[1]: 3}
    assert sync_object_holds(db=db, store=store).applied == 2
    assert [store.legal_hold(k) for k in keys] == [True, True, False]


def test_the_upgrade_queues_evidence_held_before_the_queue_existed(settings: Settings) -> None:
    engine = make_engine(settings.database.url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0009")
    db = Database(settings.database.url)
    keys = seed(db, settings, None, 3)
    with db.session() as s:
        user = create_user(session=s, username="dtv", password="investigator-pass-123", role="investigator")
        camera_id = get_camera(session=s, code="cho").id
        event = create_event(session=s, camera_id=camera_id, kind="motion", start_at=T0)
        finish_event(session=s, event_id=event.id, end_at=T0 + dt.timedelta(seconds=20))
        set_event_clip(session=s, event_id=event.id, status="ready", clip_key="clips/cho/1.mp4", sha256="1" * 64,
                       clip_start_at=T0, clip_end_at=T0 + dt.timedelta(seconds=20))
        case = create_case(session=s, title="Trước khi nâng cấp", user=user)
        for case_id in (case.id, create_case(session=s, title="Vụ thứ hai", user=user).id):  # one clip, two cases
            s.add(Evidence(case_id=case_id, event_id=event.id, object_key="clips/cho/1.mp4", sha256="1" * 64,
                           bytes=10, note="", tagged_by_id=user.id))
        first = s.scalars(select(Segment.id).where(Segment.object_key == keys[0])).one()
        hold_segments(session=s, segment_ids=[first])  # keys[1] and keys[2] are not held
    migrate(engine)
    with db.session() as s:
        rows = list(s.scalars(select(HoldSync).order_by(HoldSync.object_key)))
    assert [(r.object_key, r.attempts, r.last_error) for r in rows] == [("clips/cho/1.mp4", 0, ""), (keys[0], 0, "")]
    assert all(abs((r.queued_at - dt.datetime.now(dt.UTC)).total_seconds()) < 60 for r in rows)
    db.dispose()
    engine.dispose()
