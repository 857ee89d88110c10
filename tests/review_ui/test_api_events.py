"""JSON API: listing and filtering events, one event, 404s and input validation."""

from __future__ import annotations

import datetime as dt



def _ids(answer) -> list[int]:  # type: ignore[no-untyped-def]
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


def test_list_is_newest_first_with_total(login, seed) -> None:
    body = login("duty").get("/api/events").json()
    assert body["total"] == len(seed.events)
    starts = [item["start_at"] for item in body["items"]]
    assert starts == sorted(starts, reverse=True)
    assert body["items"][0]["id"] == seed.events["school_next_day"].id


def test_filter_by_camera(login, seed) -> None:
    client = login("duty")
    market = _ids(client.get("/api/events", params={"camera": "cho-xa"}))
    assert market == [seed.events["market_pending"].id, seed.events["market"].id]
    both = _ids(client.get("/api/events", params=[("camera", "cho-xa"), ("camera", "cong-truong")]))
    assert len(both) == len(seed.events)
    assert _ids(client.get("/api/events", params={"camera": "no-such-camera"})) == []


def test_filter_by_time_range_and_kind(login, seed) -> None:
    client = login("duty")
    # 10:30–12:30 Hà Nội time: the market event (11:00) and the school one at noon, not the 10:00 one (ends 10:00:06).
    params = {"start": "2024-05-01T10:30:00+07:00", "end": "2024-05-01T12:30:00+07:00"}
    assert _ids(client.get("/api/events", params=params)) == [seed.events["school_noon"].id, seed.events["market"].id]
    utc = {"start": (seed.base + dt.timedelta(minutes=30)).isoformat(),
           "end": (seed.base + dt.timedelta(hours=2, minutes=30)).isoformat()}
    assert _ids(client.get("/api/events", params=utc)) == [seed.events["school_noon"].id, seed.events["market"].id]
    assert _ids(client.get("/api/events", params={**params, "camera": "cho-xa"})) == [seed.events["market"].id]
    vehicles = [seed.events["gate_motorbike"].id, seed.events["market"].id]
    assert _ids(client.get("/api/events", params={"kind": "vehicle"})) == vehicles


def test_paging(login, seed) -> None:
    client = login("duty")
    first = client.get("/api/events", params={"limit": 2}).json()
    second = client.get("/api/events", params={"limit": 2, "offset": 2}).json()
    assert first["total"] == second["total"] == len(seed.events)
    assert len(first["items"]) == len(second["items"]) == 2
    assert not {i["id"] for i in first["items"]} & {i["id"] for i in second["items"]}


def test_bad_filters_are_422_with_a_message(login) -> None:
    client = login("duty")
    cases = [
        ({"start": "2024-05-01T10:00:00"}, "UTC offset"),
        ({"start": "yesterday"}, "start"),
        ({"start": "2024-05-01T10:00:00Z", "end": "2024-05-01T09:00:00Z"}, "end must be after start"),
        ({"limit": 0}, "limit"),
        ({"limit": 100000}, "limit"),
        ({"offset": -1}, "offset"),
        ({"camera": "Bad Code!"}, "camera"),
    ]
    for params, words in cases:
        answer = client.get("/api/events", params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert words in answer.json()["detail"], (params, answer.json())


def test_one_event(login, seed) -> None:
    ev = seed.events["market"]
    body = login("duty").get(f"/api/events/{ev.id}").json()
    assert body["camera"] == {"code": "cho-xa", "name": "Chợ xã"}
    assert body["kind"] == "vehicle"
    assert body["labels"] == ["car", "motorcycle"]
    assert body["start_at"] == "2024-05-01T04:00:00Z"
    assert body["end_at"] == "2024-05-01T04:00:06Z"
    assert body["clip_status"] == "ready"
    assert body["clip_url"] == f"/media/events/{ev.id}/clip.mp4"
    assert body["snapshot_url"] == f"/media/events/{ev.id}/snapshot.jpg"
    assert body["clip_sha256"] == seed.clip_sha256

    pending = login("duty").get(f"/api/events/{seed.events['market_pending'].id}").json()
    assert pending["clip_url"] is None and pending["snapshot_url"] is None and pending["clip_status"] == "pending"


def test_unknown_ids_are_404(login, seed) -> None:
    client = login("investigator")
    assert client.get("/api/events/999999").status_code == 404
    assert client.get("/api/events/999999").json()["detail"] == "no event 999999"
    assert client.get("/api/cases/999999").status_code == 404
    assert client.post("/api/events/999999/evidence", json={"new_case_title": "x", "note": "y"}).status_code == 404
    ev = seed.events["market"].id
    assert client.post(f"/api/events/{ev}/evidence", json={"case_id": 999999, "note": "y"}).status_code == 404
    assert client.get("/api/events/not-a-number").status_code == 422


def test_mark_reviewed_filter_and_undo(login, seed, ui_db) -> None:
    from sqlalchemy import select

    from storage.models import AuditEntry

    client = login("duty")
    ev = seed.events["school_noon"]
    marked = client.post(f"/api/events/{ev.id}/review", json={"reviewed": True})
    assert marked.status_code == 200, marked.text
    assert marked.json()["reviewed_by"] == "duty" and marked.json()["reviewed_at"].endswith("Z")
    unreviewed = [e["id"] for e in client.get("/api/events", params={"reviewed": "false", "limit": 500}).json()["items"]]
    reviewed = [e["id"] for e in client.get("/api/events", params={"reviewed": "true", "limit": 500}).json()["items"]]
    assert ev.id in reviewed and ev.id not in unreviewed
    undone = client.post(f"/api/events/{ev.id}/review", json={"reviewed": False})
    assert undone.json()["reviewed_at"] is None and undone.json()["reviewed_by"] is None
    assert client.post(f"/api/events/{ev.id}/review", json={"reviewed": "perhaps"}).status_code == 422
    assert client.post("/api/events/999999/review", json={"reviewed": True}).status_code == 404
    with ui_db.session() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.subject == f"event:{ev.id}",
                                                                  AuditEntry.action.like("event.%review"))
                                  .order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["event.review", "event.unreview"]
