"""Case editing, assignment, closing and evidence removal, and the audit of camera changes, on a real migrated
SQLite database and the local object store."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from config.inventory import Inventory
from config.settings import Settings
from storage.audit import check_audit_chain
from storage.credentials import CredentialCipher
from storage.db import Database
from storage.errors import Conflict, NotFound
from storage.models import AuditEntry, Camera, Segment, User
from storage.objectstore import ObjectStore
from storage.repo.cameras import import_inventory
from storage.repo.cases import create_case, get_case, list_cases, remove_evidence, tag_evidence, update_case
from storage.repo.events import create_event, finish_event, set_event_clip
from storage.repo.segments import add_segment
from storage.repo.users import create_user

T0 = dt.datetime(2026, 11, 14, 19, 0, tzinfo=dt.UTC)
INVENTORY = {
    "site": {"code": "thuan-quy", "name": "Xã Thuận Quý"},
    "recorders": [{"code": "nvr-1", "vendor": "hikvision", "host": "10.0.0.5", "username": "admin",
                   "password": "nvr-secret", "channels": 4}],
    "cameras": [
        {"code": "cam-01", "name": "Cổng trường", "main_url": "rtsp://10.0.0.11:554/main", "username": "viewer",
         "password": "p@ss:word/1", "funding": {"source": "community", "amount_vnd": 4_200_000}},
        {"code": "cam-02", "name": "Ngã ba chợ", "recorder": "nvr-1", "channel": 2},
    ],
}


@pytest.fixture
def cipher(settings: Settings) -> CredentialCipher:
    return CredentialCipher(settings.security.credentials_key.get_secret_value())


def _audit(db: Database, action: str) -> list[AuditEntry]:
    with db.session() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))
        s.expunge_all()
    return rows


def test_camera_changes_are_audited_with_what_changed_and_never_a_password(db: Database,
                                                                          cipher: CredentialCipher) -> None:
    with db.session() as s:
        import_inventory(session=s, inventory=Inventory.model_validate(INVENTORY), cipher=cipher, actor="admin-file")
    created = _audit(db, "camera.create")
    assert [(e.subject, e.actor) for e in created] == [("camera:cam-01", "admin-file"), ("camera:cam-02", "admin-file")]
    assert created[0].details["amount_vnd"] == 4_200_000 and created[0].details["password"] == "set"
    assert [e.subject for e in _audit(db, "recorder.create")] == ["recorder:nvr-1"]

    with db.session() as s:  # the same file again: nothing changed, nothing logged
        import_inventory(session=s, inventory=Inventory.model_validate(INVENTORY), cipher=cipher)
    assert _audit(db, "camera.update") == [] and _audit(db, "recorder.update") == []

    changed = {**INVENTORY, "cameras": [
        {**INVENTORY["cameras"][0], "name": "Cổng trường tiểu học", "password": "mat-khau-moi", "enabled": False},
        {**INVENTORY["cameras"][1], "channel": 3}]}
    with db.session() as s:
        import_inventory(session=s, inventory=Inventory.model_validate(changed), cipher=cipher, actor="admin-file")
    updates = {e.subject: e.details for e in _audit(db, "camera.update")}
    assert updates["camera:cam-01"] == {"name": ["Cổng trường", "Cổng trường tiểu học"], "enabled": [True, False],
                                        "password": "changed"}
    assert updates["camera:cam-02"]["channel"] == [2, 3]
    assert updates["camera:cam-02"]["main_url"][1].endswith("/Streaming/Channels/301")
    with db.session() as s:
        logged = repr(list(s.execute(select(AuditEntry.details))))
        assert check_audit_chain(session=s) is None
    for secret in ("p@ss:word/1", "mat-khau-moi", "nvr-secret"):
        assert secret not in logged


@pytest.fixture
def tagged(db: Database, store: ObjectStore, cipher: CredentialCipher) -> dict[str, int]:
    """Two events on one camera whose clips share the middle segment, both tagged into one case."""
    with db.session() as s:
        import_inventory(session=s, inventory=Inventory.model_validate(INVENTORY), cipher=cipher)
        cam = s.scalars(select(Camera).where(Camera.code == "cam-01")).one()
        for i in range(4):  # four one-minute segments from T0
            add_segment(session=s, camera_id=cam.id, start_at=T0 + dt.timedelta(minutes=i),
                        end_at=T0 + dt.timedelta(minutes=i + 1), object_key=f"segments/cam-01/{i}.ts", size=1,
                        sha256="b" * 64)
        investigator = create_user(session=s, username="dtv", password="mat-khau-dai", role="investigator")
        create_user(session=s, username="dtv2", password="mat-khau-dai", role="investigator")
        create_user(session=s, username="trucban", password="mat-khau-dai", role="duty")
        case = create_case(session=s, title="Trộm xe máy", user=investigator)
        ids = {"case": case.id}
        # clip A covers segments 0-1, clip B segments 1-2
        for name, minute in (("a", 0), ("b", 1)):
            store.put_bytes(f"clips/cam-01/{name}.mp4", name.encode() * 100, content_type="video/mp4")
            ev = create_event(session=s, camera_id=cam.id, kind="motion",
                              start_at=T0 + dt.timedelta(minutes=minute, seconds=20))
            finish_event(session=s, event_id=ev.id, end_at=T0 + dt.timedelta(minutes=minute, seconds=50))
            set_event_clip(session=s, event_id=ev.id, status="ready", clip_key=f"clips/cam-01/{name}.mp4",
                           sha256="x", clip_start_at=T0 + dt.timedelta(minutes=minute, seconds=15),
                           clip_end_at=T0 + dt.timedelta(minutes=minute + 1, seconds=5))
            ids[name] = tag_evidence(session=s, store=store, case_id=case.id, event_id=ev.id, note=f"clip {name}",
                                     user=investigator).id
    return ids


def _holds(db: Database) -> list[bool]:
    with db.session() as s:
        return list(s.scalars(select(Segment.legal_hold).order_by(Segment.start_at)))


def test_removing_evidence_keeps_the_hold_other_evidence_needs(db: Database, tagged: dict[str, int]) -> None:
    assert _holds(db) == [True, True, True, False]
    with db.session() as s:
        dtv = s.scalars(select(User).where(User.username == "dtv")).one()
        with pytest.raises(ValueError, match="why"):
            remove_evidence(session=s, case_id=tagged["case"], evidence_id=tagged["a"], reason="  ", user=dtv)
        with pytest.raises(NotFound):
            remove_evidence(session=s, case_id=tagged["case"], evidence_id=999, reason="nhầm", user=dtv)
        remove_evidence(session=s, case_id=tagged["case"], evidence_id=tagged["a"], reason="gắn nhầm camera", user=dtv)
    # segment 0 was only clip A's; segment 1 is still clip B's
    assert _holds(db) == [False, True, True, False]
    removed = _audit(db, "evidence.remove")
    assert len(removed) == 1 and removed[0].details["reason"] == "gắn nhầm camera"
    assert removed[0].details["tagged_by"] == "dtv" and removed[0].details["sha256"]
    with db.session() as s:
        assert [e.note for e in get_case(session=s, case_id=tagged["case"]).evidence] == ["clip b"]


def test_case_edit_close_and_assign(db: Database, store: ObjectStore, tagged: dict[str, int]) -> None:
    with db.session() as s:
        dtv = s.scalars(select(User).where(User.username == "dtv")).one()
        with pytest.raises(ValueError, match="no such user: nobody"):
            update_case(session=s, case_id=tagged["case"], user=dtv, assigned=["dtv2", "nobody"])
        with pytest.raises(ValueError, match="trucban"):
            update_case(session=s, case_id=tagged["case"], user=dtv, assigned=["trucban"])
        with pytest.raises(ValueError, match="status"):
            update_case(session=s, case_id=tagged["case"], user=dtv, status="lost")
        case = update_case(session=s, case_id=tagged["case"], user=dtv, title="Trộm xe máy Wave đỏ",
                           status="closed", assigned=["dtv2", "dtv"])
        assert [u.username for u in case.assigned] == ["dtv", "dtv2"] and case.updated_at is not None
    with db.session() as s:
        assert [c.id for c in list_cases(session=s, assigned_to="dtv2")] == [tagged["case"]]
        assert list_cases(session=s, assigned_to="trucban") == []
        assert [c.id for c in list_cases(session=s, status="closed")] == [tagged["case"]]
        dtv = s.scalars(select(User).where(User.username == "dtv")).one()
        # a closed case's evidence is frozen
        with pytest.raises(Conflict, match="closed"):
            remove_evidence(session=s, case_id=tagged["case"], evidence_id=tagged["a"], reason="x", user=dtv)
        event_id = get_case(session=s, case_id=tagged["case"]).evidence[0].event_id
        other = create_case(session=s, title="Vụ khác", user=dtv)
        update_case(session=s, case_id=other.id, user=dtv, status="closed")
        with pytest.raises(Conflict, match="closed"):
            tag_evidence(session=s, store=store, case_id=other.id, event_id=event_id, note="x", user=dtv)
        # unchanged values write no audit entry
        update_case(session=s, case_id=tagged["case"], user=dtv, status="closed", assigned=["dtv", "dtv2"])
    updates = _audit(db, "case.update")
    assert len(updates) == 2
    assert updates[0].details == {"title": ["Trộm xe máy", "Trộm xe máy Wave đỏ"], "status": ["open", "closed"],
                                  "assigned": [[], ["dtv", "dtv2"]]}
