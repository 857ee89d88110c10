"""Repository functions on a real migrated SQLite database, with both object-store backends."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select, text, update

from config.inventory import Inventory
from config.settings import Settings
from storage.audit import check_audit_chain
from storage.credentials import CredentialCipher
from storage.db import Database
from storage.errors import Conflict, NotFound
from storage.models import AuditEntry, Camera, Segment
from storage.objectstore import ObjectStore
from storage.repo.cameras import camera_sources, import_inventory, set_camera_status
from storage.repo.cases import create_case, get_case, tag_evidence
from storage.repo.events import create_event, finish_event, list_events, set_event_clip
from storage.repo.segments import add_segment, segments_between
from storage.repo.users import authenticate, create_user

T0 = dt.datetime(2026, 11, 14, 19, 0, tzinfo=dt.UTC)  # 02:00 on the 15th in Asia/Ho_Chi_Minh

INVENTORY = {
    "site": {"code": "thuan-quy", "name": "Xã Thuận Quý"},
    "recorders": [{"code": "nvr-1", "vendor": "hikvision", "host": "10.0.0.5", "username": "admin",
                   "password": "nvr-secret", "channels": 4}],
    "cameras": [
        {"code": "cam-01", "name": "Cổng trường", "main_url": "rtsp://10.0.0.11:554/main",
         "sub_url": "rtsp://10.0.0.11:554/sub", "username": "viewer", "password": "p@ss:word/1"},
        {"code": "cam-02", "name": "Ngã ba chợ", "recorder": "nvr-1", "channel": 2},
    ],
}


@pytest.fixture
def cipher(settings: Settings) -> CredentialCipher:
    return CredentialCipher(settings.security.credentials_key.get_secret_value())


def test_inventory_import_encrypts_passwords_and_builds_channel_urls(db: Database, cipher: CredentialCipher) -> None:
    with db.session() as s:
        assert import_inventory(session=s, inventory=Inventory.model_validate(INVENTORY), cipher=cipher) == [
            "cam-01", "cam-02"]
    with db.session() as s:
        cam = s.scalars(select(Camera).where(Camera.code == "cam-01")).one()
        assert "p@ss" not in cam.password_encrypted and cam.password_encrypted
        raw = s.execute(text("SELECT * FROM camera")).all()
        assert "nvr-secret" not in repr(raw) and "p@ss:word/1" not in repr(raw)
        sources = {x.code: x for x in camera_sources(session=s, cipher=cipher)}
    assert sources["cam-01"].record_url == "rtsp://viewer:p%40ss%3Aword%2F1@10.0.0.11:554/main"
    assert sources["cam-01"].detect_url.endswith("@10.0.0.11:554/sub")
    assert sources["cam-02"].record_url == "rtsp://admin:nvr-secret@10.0.0.5:554/Streaming/Channels/201"
    assert sources["cam-02"].detect_url == "rtsp://admin:nvr-secret@10.0.0.5:554/Streaming/Channels/202"
    # importing again updates in place and keeps health state
    with db.session() as s:
        set_camera_status(session=s, camera_id=sources["cam-01"].camera_id, status="online")
        import_inventory(session=s, inventory=Inventory.model_validate(INVENTORY), cipher=cipher)
    with db.session() as s:
        assert s.scalars(select(Camera).where(Camera.code == "cam-01")).one().status == "online"


def test_segments_are_indexed_once_and_found_by_time(db: Database, cipher: CredentialCipher) -> None:
    with db.session() as s:
        import_inventory(session=s, inventory=Inventory.model_validate(INVENTORY), cipher=cipher)
        cam = s.scalars(select(Camera)).first()
        assert cam is not None
        for i in range(3):
            start = T0 + dt.timedelta(seconds=10 * i)
            key = f"segments/cam-01/{i}.ts"
            add_segment(session=s, camera_id=cam.id, start_at=start, end_at=start + dt.timedelta(seconds=10),
                        object_key=key, size=100, sha256="a" * 64)
        add_segment(session=s, camera_id=cam.id, start_at=T0, end_at=T0 + dt.timedelta(seconds=10),
                    object_key="segments/cam-01/0.ts", size=100, sha256="a" * 64)  # re-upload after a crash
    with db.session() as s:
        assert s.scalar(select(Segment.id).order_by(Segment.id.desc())) == 3
        found = segments_between(session=s, camera_id=cam.id, start=T0 + dt.timedelta(seconds=12),
                                 end=T0 + dt.timedelta(seconds=21))
        assert [x.object_key for x in found] == ["segments/cam-01/1.ts", "segments/cam-01/2.ts"]
        assert found[0].start_at.tzinfo is not None and found[0].start_at == T0 + dt.timedelta(seconds=10)


def test_tagging_evidence_hashes_the_stored_clip_and_holds_segments(
    db: Database, store: ObjectStore, cipher: CredentialCipher
) -> None:
    clip = b"\x00\x00\x00\x18ftypisom" + bytes(5000)
    store.put_bytes("clips/cam-01/1.mp4", clip, content_type="video/mp4")
    with db.session() as s:
        import_inventory(session=s, inventory=Inventory.model_validate(INVENTORY), cipher=cipher)
        cam = s.scalars(select(Camera)).first()
        assert cam is not None
        add_segment(session=s, camera_id=cam.id, start_at=T0, end_at=T0 + dt.timedelta(seconds=60),
                    object_key="segments/cam-01/a.ts", size=1, sha256="b" * 64)
        add_segment(session=s, camera_id=cam.id, start_at=T0 + dt.timedelta(hours=1),
                    end_at=T0 + dt.timedelta(hours=1, seconds=60), object_key="segments/cam-01/b.ts", size=1,
                    sha256="b" * 64)
        ev = create_event(session=s, camera_id=cam.id, kind="motion", start_at=T0 + dt.timedelta(seconds=5))
        finish_event(session=s, event_id=ev.id, end_at=T0 + dt.timedelta(seconds=20))
        investigator = create_user(session=s, username="dtv", password="mat-khau-dai", role="investigator")
        case = create_case(session=s, title="Trộm xe máy", user=investigator)
        with pytest.raises(Conflict, match="no clip"):
            tag_evidence(session=s, store=store, case_id=case.id, event_id=ev.id, note="x", user=investigator)
        set_event_clip(session=s, event_id=ev.id, status="ready", clip_key="clips/cam-01/1.mp4",
                       sha256="stale-value", clip_start_at=T0, clip_end_at=T0 + dt.timedelta(seconds=25))
        evidence = tag_evidence(session=s, store=store, case_id=case.id, event_id=ev.id, note="xe máy đỏ",
                                user=investigator)
        assert evidence.sha256 == hashlib.sha256(clip).hexdigest()
        with pytest.raises(Conflict, match="already"):
            tag_evidence(session=s, store=store, case_id=case.id, event_id=ev.id, note="again", user=investigator)
    with db.session() as s:
        holds = dict(s.execute(select(Segment.object_key, Segment.legal_hold)).all())
        assert holds == {"segments/cam-01/a.ts": True, "segments/cam-01/b.ts": False}
        case = get_case(session=s, case_id=case.id)
        assert case.number.startswith("VV-") and [e.note for e in case.evidence] == ["xe máy đỏ"]
        events, total = list_events(session=s, camera_codes=["cam-01"], start=T0, end=T0 + dt.timedelta(minutes=1))
        assert total == 1 and events[0].camera.code == "cam-01"
        assert list_events(session=s, camera_codes=["cam-02"])[1] == 0
        with pytest.raises(NotFound):
            get_case(session=s, case_id=999)


def test_audit_chain_detects_an_altered_row(db: Database) -> None:
    with db.session() as s:
        user = create_user(session=s, username="qtv", password="mat-khau-dai", role="admin")
        create_case(session=s, title="A", user=user)
        create_case(session=s, title="B", user=user)
    with db.session() as s:
        assert check_audit_chain(session=s) is None
        s.execute(update(AuditEntry).where(AuditEntry.id == 2).values(details={"title": "changed"}))
    with db.session() as s:
        broken = check_audit_chain(session=s)
        assert broken is not None and broken.entry_id == 2


def test_authentication(db: Database) -> None:
    with db.session() as s:
        create_user(session=s, username="trucban", password="mat-khau-dai", role="duty")
        with pytest.raises(Conflict):
            create_user(session=s, username="trucban", password="mat-khau-dai", role="duty")
        with pytest.raises(ValueError):
            create_user(session=s, username="x", password="short", role="duty")
    with db.session() as s:
        assert authenticate(session=s, username="trucban", password="mat-khau-dai") is not None
        assert authenticate(session=s, username="trucban", password="wrong-password") is None
        assert authenticate(session=s, username="nobody", password="mat-khau-dai") is None


def test_case_numbers_follow_the_highest_not_the_count(db: Database) -> None:
    from storage.models import Case

    with db.session() as s:
        user = create_user(session=s, username="dtv2", password="mat-khau-dai", role="investigator")
        first = create_case(session=s, title="A", user=user)
        second = create_case(session=s, title="B", user=user)
        s.delete(first)  # a removed case must not make the next number collide with the second
        s.flush()
        third = create_case(session=s, title="C", user=user)
        assert int(third.number.rsplit("-", 1)[1]) == int(second.number.rsplit("-", 1)[1]) + 1
        assert s.scalar(select(Case.id).where(Case.number == third.number)) == third.id


def test_events_left_open_by_a_crash_are_closed_at_the_last_recording(db: Database, cipher: CredentialCipher) -> None:
    from storage.repo.events import close_open_events, get_event

    with db.session() as s:
        import_inventory(session=s, inventory=Inventory.model_validate(INVENTORY), cipher=cipher)
        cam = s.scalars(select(Camera)).first()
        assert cam is not None
        dangling = create_event(session=s, camera_id=cam.id, kind="motion", start_at=T0)
        done = create_event(session=s, camera_id=cam.id, kind="motion", start_at=T0 - dt.timedelta(minutes=5))
        finish_event(session=s, event_id=done.id, end_at=T0 - dt.timedelta(minutes=4))
        late = create_event(session=s, camera_id=cam.id, kind="motion", start_at=T0 + dt.timedelta(minutes=1))
        closed = close_open_events(session=s, camera_id=cam.id, recorded_until=T0 + dt.timedelta(seconds=30))
        assert sorted(closed) == sorted([dangling.id, late.id])
        assert get_event(session=s, event_id=dangling.id).end_at == T0 + dt.timedelta(seconds=30)
        assert get_event(session=s, event_id=late.id).end_at == T0 + dt.timedelta(minutes=1)  # never before start
        assert get_event(session=s, event_id=done.id).end_at == T0 - dt.timedelta(minutes=4)
