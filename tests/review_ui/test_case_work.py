"""Working a case: edit, assign, close and reopen; remove a wrongly tagged clip with a reason; through the JSON API and
the page forms, with the audit trail and the legal hold checked in the database."""

from __future__ import annotations

import re

from sqlalchemy import select

from storage.audit import check_audit_chain
from storage.models import AuditEntry, Segment

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _open_case_with_evidence(client, seed, title: str) -> tuple[dict, dict]:
    """A new case holding the clip of the seed's morning event (whose footage is the seed's one segment)."""
    answer = client.post(f"/api/events/{seed.events['school_morning'].id}/evidence",
                         json={"new_case_title": title, "note": "Xe máy chạy qua cổng"})  # fmt: skip
    assert answer.status_code == 201, answer.text
    evidence = answer.json()
    return client.get(f"/api/cases/{evidence['case_id']}").json(), evidence


def test_edit_assign_close_and_reopen_through_the_api(login, seed, ui_db) -> None:
    client = login("investigator")
    case, evidence = _open_case_with_evidence(client, seed, "Trộm xe máy ở cổng trường")
    changed = client.patch(f"/api/cases/{case['id']}", json={
        "title": "Trộm xe máy Wave ở cổng trường", "assigned": ["investigator", "admin"], "status": "closed"})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["title"] == "Trộm xe máy Wave ở cổng trường" and body["status"] == "closed"
    assert body["assigned"] == ["admin", "investigator"] and body["updated_at"].endswith("Z")
    assert body["description"] == case["description"]  # not given, not changed

    listed = [c["id"] for c in client.get("/api/cases", params={"status": "closed", "assigned": "admin"}).json()]
    assert case["id"] in listed
    assert case["id"] not in [c["id"] for c in client.get("/api/cases", params={"status": "open"}).json()]
    assert client.get("/api/cases", params={"assigned": "nobody-here"}).json() == []

    # a closed case takes no new evidence and gives none up
    refused = client.post(f"/api/events/{seed.events['market'].id}/evidence",
                          json={"case_id": case["id"], "note": "thêm"})  # fmt: skip
    assert refused.status_code == 409 and "reopen" in refused.json()["detail"]
    refused = client.request("DELETE", f"/api/cases/{case['id']}/evidence/{evidence['id']}", json={"reason": "nhầm"})
    assert refused.status_code == 409

    # duty officers are not assignable; unknown users are named
    wrong = client.patch(f"/api/cases/{case['id']}", json={"assigned": ["duty"]})
    assert wrong.status_code == 422 and "duty" in wrong.json()["detail"]
    wrong = client.patch(f"/api/cases/{case['id']}", json={"assigned": ["khong-co-ai"]})
    assert wrong.status_code == 422 and "khong-co-ai" in wrong.json()["detail"]
    assert client.patch(f"/api/cases/{case['id']}", json={"status": "lost"}).status_code == 422
    assert client.patch(f"/api/cases/{case['id']}", json={"title": ""}).status_code == 422

    reopened = client.patch(f"/api/cases/{case['id']}", json={"status": "open"})
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
    with ui_db.session() as session:
        updates = session.scalars(select(AuditEntry).where(AuditEntry.subject == f"case:{case['number']}",
                                                           AuditEntry.action == "case.update")
                                  .order_by(AuditEntry.id)).all()  # fmt: skip
        assert [u.details.get("status") for u in updates] == [["open", "closed"], ["closed", "open"]]
        assert updates[0].details["assigned"] == [[], ["admin", "investigator"]]
        assert updates[0].actor == "investigator"
        assert check_audit_chain(session=session) is None


def test_remove_evidence_needs_a_reason_and_is_logged(login, seed, ui_db) -> None:
    client = login("admin")
    _open_case_with_evidence(client, seed, "Vụ việc giữ cùng đoạn ghi hình")
    case, evidence = _open_case_with_evidence(client, seed, "Gắn nhầm chứng cứ")
    url = f"/api/cases/{case['id']}/evidence/{evidence['id']}"
    assert client.request("DELETE", url, json={}).status_code == 422
    assert client.request("DELETE", url, json={"reason": ""}).status_code == 422
    assert login("duty").request("DELETE", url, json={"reason": "thử"}).status_code == 403
    removed = client.request("DELETE", url, json={"reason": "Gắn nhầm: không phải xe trong vụ việc"})
    assert removed.status_code == 204, removed.text
    assert client.get(f"/api/cases/{case['id']}").json()["evidence"] == []
    assert client.request("DELETE", url, json={"reason": "lần nữa"}).status_code == 404
    with ui_db.session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.subject == f"case:{case['number']}",
                                                         AuditEntry.action == "evidence.remove")).one()  # fmt: skip
        assert entry.details["reason"] == "Gắn nhầm: không phải xe trong vụ việc"
        assert entry.details["sha256"] == evidence["sha256"] and entry.details["tagged_by"] == "admin"
        # the other case still holds the same clip, so its footage stays on legal hold
        held = session.scalars(select(Segment.legal_hold).where(Segment.id.in_(seed.segment_ids))).all()
        assert held == [True]


def test_case_page_forms(login, seed) -> None:
    client = login("investigator")
    case, evidence = _open_case_with_evidence(client, seed, "Vụ việc sửa qua trang")
    page = client.get(f"/cases/{case['id']}")
    assert 'id="case-edit-form"' in page.text and "remove-evidence-form" in page.text
    token = CSRF.search(page.text).group(1)
    no_title = client.post(f"/cases/{case['id']}", data={"csrf_token": token, "title": " ", "status": "open"})
    assert no_title.status_code == 422 and "Cần có tiêu đề" in no_title.text
    saved = client.post(f"/cases/{case['id']}", data={
        "csrf_token": token, "title": "Vụ việc đã sửa", "description": "Mô tả mới", "status": "open",
        "assigned": ["investigator", "admin"]})
    assert saved.status_code == 303
    page = client.get(f"/cases/{case['id']}")
    assert "Vụ việc đã sửa" in page.text and "Mô tả mới" in page.text and "Đã lưu vụ việc." in page.text
    assigned = re.search(r'id="case-assigned">(.*?)</dd>', page.text).group(1)
    assert "Nguyễn Văn Quản" in assigned and "Trần Thị Điều" in assigned

    url = f"/cases/{case['id']}/evidence/{evidence['id']}/remove"
    no_reason = client.post(url, data={"csrf_token": token, "reason": ""})
    assert no_reason.status_code == 422 and "lý do" in no_reason.text
    assert client.post(url, data={"reason": "thiếu mã CSRF"}).status_code == 403
    removed = client.post(url, data={"csrf_token": token, "reason": "Gắn nhầm"})
    assert removed.status_code == 303
    page = client.get(f"/cases/{case['id']}")
    assert 'id="no-evidence"' in page.text and f"#{evidence['id']}" in page.text  # the flash names it

    closed = client.post(f"/cases/{case['id']}", data={"csrf_token": token, "title": "Vụ việc đã sửa",
                                                       "status": "closed"})  # fmt: skip
    assert closed.status_code == 303
    page = client.get(f"/cases/{case['id']}")
    assert 'id="case-assigned"><span class="hint">' in page.text  # no box ticked: nobody assigned any more
    listing = client.get("/cases", params={"status": "closed"}).text
    assert f'data-case-id="{case["id"]}"' in listing
    assert f'data-case-id="{case["id"]}"' not in client.get("/cases", params={"status": "open"}).text
    # the duty officer sees the case but no forms to change it
    duty_page = login("duty").get(f"/cases/{case['id']}").text
    assert "case-edit-form" not in duty_page and "remove-evidence-form" not in duty_page
