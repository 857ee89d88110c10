"""recording_gaps: what of a clip's time no segment covers."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from storage.bundle import recording_gaps

T0 = dt.datetime(2024, 5, 1, 3, 0, tzinfo=dt.UTC)


def seg(a: float, b: float) -> SimpleNamespace:
    return SimpleNamespace(start_at=T0 + dt.timedelta(seconds=a), end_at=T0 + dt.timedelta(seconds=b))


def gaps(segments: list[SimpleNamespace], a: float, b: float) -> list[tuple[float, float]]:
    found = recording_gaps(segments, T0 + dt.timedelta(seconds=a), T0 + dt.timedelta(seconds=b))
    return [((x - T0).total_seconds(), (y - T0).total_seconds()) for x, y in found]


def test_gaps_at_the_start_in_the_middle_and_at_the_end() -> None:
    assert gaps([seg(0, 10), seg(10.2, 20)], 2, 18) == []  # 0.2 s between segments is frame rounding
    assert gaps([seg(5, 10), seg(14, 20)], 0, 25) == [(0, 5), (10, 14), (20, 25)]
    assert gaps([], 0, 6) == [(0, 6)]
    assert gaps([seg(10, 20), seg(0, 12)], 0, 20) == []  # overlapping, in any order


def test_naive_times_from_sqlite_count_as_utc() -> None:
    naive = SimpleNamespace(start_at=T0.replace(tzinfo=None), end_at=(T0 + dt.timedelta(seconds=10)).replace(tzinfo=None))
    assert gaps([naive], 0, 10) == []


def test_a_clip_changed_after_tagging_stops_the_export(db, store, settings) -> None:
    """On both object stores: the bundle re-hashes each clip as it copies it; a changed one is refused, unaudited."""
    import io

    import pytest
    from sqlalchemy import select

    from config.inventory import Inventory
    from storage.bundle import build_bundle, verify_bundle
    from storage.credentials import CredentialCipher
    from storage.errors import IntegrityError
    from storage.models import AuditEntry, Camera
    from storage.repo.cameras import import_inventory
    from storage.repo.cases import create_case, tag_evidence
    from storage.repo.events import create_event, finish_event, set_event_clip
    from storage.repo.users import create_user
    from tests.storage.test_repositories import INVENTORY

    clip = b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 40
    store.put_bytes("clips/cam-01/1.mp4", clip, content_type="video/mp4")
    cipher = CredentialCipher(settings.security.credentials_key.get_secret_value())
    with db.session() as s:
        import_inventory(session=s, inventory=Inventory.model_validate(INVENTORY), cipher=cipher)
        camera = s.scalars(select(Camera).where(Camera.code == "cam-01")).one()
        event = create_event(session=s, camera_id=camera.id, kind="vehicle", start_at=T0)
        finish_event(session=s, event_id=event.id, end_at=T0 + dt.timedelta(seconds=8))
        set_event_clip(session=s, event_id=event.id, status="ready", clip_key="clips/cam-01/1.mp4", sha256="x",
                       clip_start_at=T0, clip_end_at=T0 + dt.timedelta(seconds=8))
        user = create_user(session=s, username="dtv", password="mat-khau-dai", role="investigator")
        case = create_case(session=s, title="Xe máy", user=user)
        tag_evidence(session=s, store=store, case_id=case.id, event_id=event.id, note="biển số 49", user=user)
        case_id, user_id = case.id, user.id
    with db.session() as s:
        out = io.BytesIO()
        summary = build_bundle(session=s, store=store, case_id=case_id, user=s.get(type(user), user_id), out=out,
                               timezone="Asia/Ho_Chi_Minh")
        assert summary.clip_bytes == len(clip)
    assert verify_bundle(io.BytesIO(out.getvalue())).ok

    store.put_bytes("clips/cam-01/1.mp4", clip[:-1] + b"\x01", content_type="video/mp4")  # behind the system's back
    with db.session() as s, pytest.raises(IntegrityError, match="no longer what was tagged"):
        build_bundle(session=s, store=store, case_id=case_id, user=s.get(type(user), user_id), out=io.BytesIO(),
                     timezone="Asia/Ho_Chi_Minh")
    with db.session() as s:
        assert len(s.scalars(select(AuditEntry).where(AuditEntry.action == "case.export")).all()) == 1
