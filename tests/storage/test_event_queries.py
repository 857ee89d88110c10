"""Time-range event queries: bounded by start for split kinds, yet long offline and tamper periods are still found."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from config.inventory import Inventory
from storage.credentials import CredentialCipher
from storage.models import Camera
from storage.repo.cameras import import_inventory
from storage.repo.events import COUNT_CAP, create_event, finish_event, list_events
from tests.storage.test_repositories import INVENTORY

T0 = dt.datetime(2026, 3, 1, 0, 0, tzinfo=dt.UTC)


def test_long_periods_overlapping_a_window_are_listed(db, settings) -> None:
    cipher = CredentialCipher(settings.security.credentials_key.get_secret_value())
    with db.session() as s:
        import_inventory(session=s, inventory=Inventory.model_validate(INVENTORY), cipher=cipher)
        cam = s.scalars(select(Camera).where(Camera.code == "cam-01")).one().id
        spans = {"offline": (-5 * 3600, 6 * 3600), "tamper": (-3 * 3600, 4 * 3600), "motion": (-50 * 60, 30),
                 "vehicle": (-20, 40), "person": (-2 * 3600, 60)}  # start offset, length (s) around T0
        ids = {}
        for kind, (offset, length) in spans.items():
            ev = create_event(session=s, camera_id=cam, kind=kind, start_at=T0 + dt.timedelta(seconds=offset))
            finish_event(session=s, event_id=ev.id, end_at=T0 + dt.timedelta(seconds=offset + length))
            ids[ev.id] = kind
        open_offline = create_event(session=s, camera_id=cam, kind="offline", start_at=T0 - dt.timedelta(days=3))
        ids[open_offline.id] = "offline (open)"
    with db.session() as s:
        found, total = list_events(session=s, camera_codes=["cam-01"], start=T0, end=T0 + dt.timedelta(minutes=10))
    # overlapping [T0, T0+10 min): the 5-h offline period, the 3-h tamper, the vehicle crossing T0, the open offline
    assert sorted(ids[e.id] for e in found) == ["offline", "offline (open)", "tamper", "vehicle"]
    assert total == 4 and COUNT_CAP >= 10_000
