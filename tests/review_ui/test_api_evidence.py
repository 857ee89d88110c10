"""JSON API: opening cases and tagging event clips as evidence (hash, legal hold, audit, roles, validation)."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from storage.audit import check_audit_chain
from storage.models import AuditEntry, Case, Segment


def test_tag_into_a_new_case(login, seed, ui_db, ui_store) -> None:
    client = login("investigator")
    ev = seed.events["school_morning"]
    answer = client.post(f"/api/events/{ev.id}/evidence",
                         json={"new_case_title": "Trộm xe máy trước cổng trường", "note": "Người mặc áo đỏ, 10:00"})
    assert answer.status_code == 201, answer.text
    evidence = answer.json()
    stored = ui_store.get_bytes(ev.clip_key)
    assert evidence["sha256"] == hashlib.sha256(stored).hexdigest() == seed.clip_sha256
    assert evidence["bytes"] == len(stored)
    assert evidence["event_id"] == ev.id
    assert evidence["object_key"] == ev.clip_key
    assert evidence["tagged_by"] == "investigator"
    assert evidence["note"] == "Người mặc áo đỏ, 10:00"
    assert evidence["tagged_at"].endswith("Z")

    case = client.get(f"/api/cases/{evidence['case_id']}").json()
    assert case["title"] == "Trộm xe máy trước cổng trường"
    assert case["number"].startswith("VV-")
    assert case["status"] == "open"
    assert case["created_by"] == "investigator"
    assert [e["id"] for e in case["evidence"]] == [evidence["id"]]
    assert case["evidence"][0]["sha256"] == evidence["sha256"]
    assert case["evidence"][0]["camera"]["code"] == "cong-truong"

    with ui_db.session() as session:
        held = session.scalars(select(Segment.legal_hold).where(Segment.id.in_(seed.segment_ids))).all()
        assert held == [True]
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.subject == f"case:{case['number']}")
                                  .order_by(AuditEntry.id)).all()
        assert actions == ["case.create", "evidence.tag", "case.view"]  # the GET above is a view of evidence
        assert check_audit_chain(session=session) is None


def test_tag_into_an_existing_case_and_not_twice(login, seed) -> None:
    client = login("admin")
    opened = client.post("/api/cases", json={"title": "Va chạm giao thông ở chợ", "description": "Sáng 1/5"})
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert case["evidence_count"] == 0 and case["created_by"] == "admin"

    ev = seed.events["market"]
    tagged = client.post(f"/api/events/{ev.id}/evidence", json={"case_id": case["id"], "note": "Xe tải lùi vào xe máy"})
    assert tagged.status_code == 201, tagged.text
    assert tagged.json()["case_id"] == case["id"]
    assert tagged.json()["sha256"] == seed.clip_sha256

    again = client.post(f"/api/events/{ev.id}/evidence", json={"case_id": case["id"], "note": "lần nữa"})
    assert again.status_code == 409
    assert "already evidence" in again.json()["detail"]

    listed = {c["id"]: c for c in client.get("/api/cases").json()}
    assert listed[case["id"]]["evidence_count"] == 1
    detail = client.get(f"/api/cases/{case['id']}").json()
    assert [e["event_id"] for e in detail["evidence"]] == [ev.id]


def test_a_clip_that_is_not_ready_cannot_be_tagged_and_no_case_is_left_behind(login, seed, ui_db) -> None:
    client = login("investigator")
    title = "Không được tạo vì chưa có clip"
    answer = client.post(f"/api/events/{seed.events['market_pending'].id}/evidence",
                         json={"new_case_title": title, "note": "thử"})
    assert answer.status_code == 409
    assert "no clip yet" in answer.json()["detail"]
    with ui_db.session() as session:
        assert session.scalars(select(Case).where(Case.title == title)).first() is None


def test_duty_officers_may_look_but_not_tag(login, seed) -> None:
    client = login("duty")
    ev = seed.events["school_noon"]
    assert client.get(f"/api/events/{ev.id}").status_code == 200
    answer = client.post(f"/api/events/{ev.id}/evidence", json={"new_case_title": "x", "note": "y"})
    assert answer.status_code == 403
    assert "investigator" in answer.json()["detail"]
    assert client.post("/api/cases", json={"title": "x"}).status_code == 403


def test_malformed_tag_bodies_are_422_with_clear_messages(login, seed) -> None:
    client = login("investigator")
    url = f"/api/events/{seed.events['school_noon'].id}/evidence"
    cases = [
        ({"new_case_title": "Vụ A"}, "note: Field required"),
        ({"new_case_title": "Vụ A", "note": "   "}, "note"),
        ({"note": "không có vụ việc"}, "exactly one of case_id"),
        ({"case_id": 1, "new_case_title": "Vụ A", "note": "cả hai"}, "exactly one of case_id"),
        ({"case_id": "1", "note": "chuỗi"}, "case_id"),
        ({"case_id": 1.5, "note": "số thực"}, "case_id"),
        ({"case_id": 0, "note": "không"}, "case_id"),
        ({"new_case_title": "Vụ A", "note": 123}, "note"),
        ({"new_case_title": "x" * 301, "note": "dài"}, "new_case_title"),
        ({"new_case_title": "Vụ A", "note": "n" * 2001}, "note"),
        ({"new_case_title": "Vụ A", "note": "ok", "sha256": "0" * 64}, "sha256"),
        ([1, 2, 3], "dictionary"),
    ]
    for body, words in cases:
        answer = client.post(url, json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert words in answer.json()["detail"], (body, answer.json())
        assert isinstance(answer.json()["errors"], list)
    broken = client.post(url, content=b"{note:", headers={"content-type": "application/json"})
    assert broken.status_code == 422
    bad_case = client.post("/api/cases", json={"title": ""})
    assert bad_case.status_code == 422 and "title" in bad_case.json()["detail"]
