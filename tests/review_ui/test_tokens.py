"""API tokens for scripts: made in a password session, shown once, stored as a hash; they act with their user's role
and stop at revocation, expiry or when the user is disabled. Every test makes its own users."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import select

from storage.models import ApiToken, AuditEntry, utcnow
from storage.repo.tokens import MAX_ACTIVE_TOKENS
from storage.repo.users import create_user

NOBODY = 2**31 - 1


@pytest.fixture
def person(live_server: str, ui_db) -> Iterator[Callable[[str], tuple[str, httpx.Client]]]:
    """person("duty") → (username, a client logged in with that new user's password)."""
    made: list[httpx.Client] = []

    def _person(role: str) -> tuple[str, httpx.Client]:
        name = f"tok-{role[:4]}-{uuid.uuid4().hex[:8]}"
        with ui_db.session() as session:
            create_user(session=session, username=name, password="mat-khau-script-1", role=role)
        client = httpx.Client(base_url=live_server, timeout=20)
        made.append(client)
        answer = client.post("/api/auth/login", json={"username": name, "password": "mat-khau-script-1"})
        assert answer.status_code == 200, answer.text
        return name, client

    yield _person
    for client in made:
        client.close()


@pytest.fixture
def script(live_server: str) -> Iterator[Callable[[str], httpx.Client]]:
    """script(token) → a client with no cookie that sends the token."""
    made: list[httpx.Client] = []

    def _script(token: str) -> httpx.Client:
        made.append(httpx.Client(base_url=live_server, timeout=20, headers={"Authorization": f"Bearer {token}"}))
        return made[-1]

    yield _script
    for client in made:
        client.close()


def make_token(client: httpx.Client, name: str = "báo cáo đêm", **extra: object) -> dict:
    answer = client.post("/api/auth/tokens", json={"name": name, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_token_acts_with_its_users_role(person, script, seed) -> None:
    name, session = person("duty")
    made = make_token(session)
    assert made["token"].startswith("mt_") and len(made["token"]) > 40
    assert made["prefix"] == made["token"][:10] and made["state"] == "active" and made["expires_at"] is None
    listed = session.get("/api/auth/tokens").json()
    assert [t["id"] for t in listed] == [made["id"]] and "token" not in listed[0]
    assert made["token"] not in session.get("/api/auth/tokens").text

    duty = script(made["token"])
    assert "set-cookie" not in duty.get("/api/auth/me").headers
    assert duty.get("/api/auth/me").json()["username"] == name
    assert duty.get("/api/events", params={"limit": 1}).status_code == 200
    assert duty.get(f"/media/events/{seed.events['market'].id}/snapshot.jpg").status_code == 200
    refused = duty.post("/api/cases", json={"title": "Script không được mở vụ việc"})
    assert refused.status_code == 403 and "may not" in refused.json()["detail"]
    assert duty.post("/api/cases", content=b"title=x",
                     headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 415
    # a JSON write it may do: revoke another of its user's tokens
    other = make_token(session, "tạm")
    revoked = duty.post(f"/api/auth/tokens/{other['id']}/revoke", json={})
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"


def test_an_investigators_token_passes_the_role_check(person, script) -> None:
    _, session = person("investigator")
    investigator = script(make_token(session)["token"])
    assert investigator.post(f"/api/cases/{NOBODY}/export", json={}).status_code == 404  # past the role check


def test_a_token_cannot_make_tokens_change_a_password_or_manage_users(person, script) -> None:
    _, session = person("admin")
    admin = script(make_token(session)["token"])
    for path, body in (("/api/auth/tokens", {"name": "thêm mã"}),
                       ("/api/auth/password", {"current_password": "mat-khau-script-1",
                                               "new_password": "mat-khau-2-2"}),
                       ("/api/users", {"username": f"x-{uuid.uuid4().hex[:6]}", "role": "admin",
                                       "password": "mat-khau-chiem-1"})):
        answer = admin.post(path, json=body)
        assert answer.status_code == 403, (path, answer.text)
        assert "API token may not" in answer.json()["detail"] and "log in with your password" in answer.json()["detail"]
    assert admin.get("/api/users").status_code == 200  # reading is fine
    assert len(session.get("/api/auth/tokens").json()) == 1


def test_revoked_expired_and_unknown_tokens_are_refused(person, script, ui_db) -> None:
    _, session = person("duty")
    revoked, expired = make_token(session, "thu hồi"), make_token(session, "hết hạn", expires_days=1)
    assert expired["expires_at"] is not None
    assert script(revoked["token"]).get("/api/auth/me").status_code == 200
    assert session.post(f"/api/auth/tokens/{revoked['id']}/revoke", json={}).status_code == 200
    assert session.post(f"/api/auth/tokens/{revoked['id']}/revoke", json={}).status_code == 200  # again: no change
    with ui_db.session() as db:
        db.get(ApiToken, expired["id"]).expires_at = utcnow() - dt.timedelta(seconds=1)
    states = {t["id"]: t["state"] for t in session.get("/api/auth/tokens").json()}
    assert states == {revoked["id"]: "revoked", expired["id"]: "expired"}
    for token in (revoked["token"], expired["token"], "mt_" + "A" * 43, "khong-phai-ma", revoked["token"] + "x"):
        answer = script(token).get("/api/auth/me")
        assert answer.status_code == 401, token
        assert "/account/tokens" in answer.json()["detail"] and answer.headers["www-authenticate"].startswith("Bearer")
    with httpx.Client(base_url=str(session.base_url), timeout=20) as other_scheme:
        basic = other_scheme.get("/api/auth/me", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
        assert basic.status_code == 401
    # a token header beats a cookie: a bad token is refused even on a logged-in client
    assert session.get("/api/auth/me", headers={"Authorization": f"Bearer {revoked['token']}"}).status_code == 401
    assert session.get("/api/auth/me").status_code == 200


def test_only_the_hash_is_stored_and_audited_without_the_token(person, ui_db) -> None:
    name, session = person("investigator")
    made = make_token(session, "chỉ lưu mã băm", expires_days=30)
    with ui_db.session() as db:
        row = db.get(ApiToken, made["id"])
        stored = [str(getattr(row, column.key)) for column in ApiToken.__table__.columns]
        assert row.token_sha256 == hashlib.sha256(made["token"].encode()).hexdigest()
        assert row.prefix == made["token"][:10]
        entries = db.scalars(select(AuditEntry).where(AuditEntry.subject == f"user:{name}",
                                                      AuditEntry.action.like("token.%"))).all()  # fmt: skip
        audit = json.dumps([(e.action, e.details) for e in entries], ensure_ascii=False)
    assert not any(made["token"] in value for value in stored)
    assert made["token"] not in audit and made["token"][10:20] not in audit
    assert [e.action for e in entries] == ["token.create"]
    assert session.post(f"/api/auth/tokens/{made['id']}/revoke", json={}).status_code == 200
    with ui_db.session() as db:
        actions = db.scalars(select(AuditEntry.action).where(AuditEntry.subject == f"user:{name}",
                                                             AuditEntry.action.like("token.%"))
                             .order_by(AuditEntry.id)).all()  # fmt: skip
    assert actions == ["token.create", "token.revoke"]


def test_last_used_is_written_at_most_once_a_minute(person, script, ui_db) -> None:
    _, session = person("duty")
    made = make_token(session)
    client = script(made["token"])
    assert session.get("/api/auth/tokens").json()[0]["last_used_at"] is None
    client.get("/api/auth/me")
    first = session.get("/api/auth/tokens").json()[0]["last_used_at"]
    client.get("/api/auth/me")
    assert first is not None and session.get("/api/auth/tokens").json()[0]["last_used_at"] == first
    with ui_db.session() as db:
        db.get(ApiToken, made["id"]).last_used_at = utcnow() - dt.timedelta(minutes=2)
    client.get("/api/auth/me")
    later = dt.datetime.fromisoformat(session.get("/api/auth/tokens").json()[0]["last_used_at"])
    assert utcnow() - later < dt.timedelta(seconds=30)


def test_only_ones_own_tokens_unless_administrator(person, login) -> None:
    _, owner = person("investigator")
    _, stranger = person("investigator")
    made = make_token(owner)
    assert stranger.post(f"/api/auth/tokens/{made['id']}/revoke", json={}).status_code == 404
    assert stranger.get("/api/auth/tokens").json() == []
    assert login("admin").post(f"/api/auth/tokens/{made['id']}/revoke", json={}).status_code == 200
    assert owner.get("/api/auth/tokens").json()[0]["state"] == "revoked"
    assert owner.post(f"/api/auth/tokens/{NOBODY}/revoke", json={}).status_code == 404


def test_input_limits(person) -> None:
    _, session = person("duty")
    for body in ({"name": ""}, {"name": "x" * 101}, {"name": "a", "expires_days": 0},
                 {"name": "a", "expires_days": 3651}, {"name": "a", "expires_days": "7"},
                 {"name": "a", "token": "mt_x"}):
        assert session.post("/api/auth/tokens", json=body).status_code == 422, body
    for _ in range(MAX_ACTIVE_TOKENS):
        make_token(session, "nhiều")
    too_many = session.post("/api/auth/tokens", json={"name": "một mã nữa"})
    assert too_many.status_code == 409 and "revoke" in too_many.json()["detail"]


def test_the_tokens_page(person, script, login) -> None:
    name, browser = person("duty")
    page = browser.get("/account/tokens")
    assert page.status_code == 200 and 'id="no-tokens"' in page.text and 'id="nav-tokens"' in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert browser.post("/account/tokens", data={"csrf_token": token, "name": " "}).status_code == 422
    bad_days = browser.post("/account/tokens", data={"csrf_token": token, "name": "a", "expires_days": "abc"})
    assert bad_days.status_code == 422 and "từ 1 đến 3650" in bad_days.text
    assert browser.post("/account/tokens", data={"name": "không có CSRF"}).status_code == 403

    created = browser.post("/account/tokens", data={"csrf_token": token, "name": "camera xuất", "expires_days": "90"})
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    plaintext = re.search(r'id="new-token-value">(mt_[^<]+)<', created.text).group(1)
    assert "chỉ hiển thị một lần" in created.text
    assert script(plaintext).get("/api/auth/me").json()["username"] == name
    listed = browser.get("/account/tokens")
    assert plaintext not in listed.text and plaintext[:10] in listed.text and "Chưa dùng" not in listed.text
    token_id = browser.get("/api/auth/tokens").json()[0]["id"]

    revoked = browser.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303 and revoked.headers["location"] == "/account/tokens"
    assert "Đã thu hồi mã “camera xuất”" in browser.get("/account/tokens").text
    assert script(plaintext).get("/api/auth/me").status_code == 401
    # someone else's token from the page: not found
    assert browser.post(f"/account/tokens/{NOBODY}/revoke", data={"csrf_token": token}).status_code == 404


def test_an_administrator_sees_and_revokes_a_users_tokens_on_their_page(person, script, login) -> None:
    name, owner = person("investigator")
    made = make_token(owner, "máy chủ báo cáo")
    admin = login("admin")
    user_id = owner.get("/api/auth/me").json()["id"]
    page = admin.get(f"/admin/users/{user_id}")
    assert "máy chủ báo cáo" in page.text and made["prefix"] in page.text and made["token"] not in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    back = f"/admin/users/{user_id}"
    assert f'name="next" value="{back}"' in page.text
    revoked = admin.post(f"/account/tokens/{made['id']}/revoke", data={"csrf_token": token, "next": back})
    assert revoked.status_code == 303 and revoked.headers["location"] == back
    assert script(made["token"]).get("/api/auth/me").status_code == 401
    # off-site "next" is ignored
    other = make_token(owner, "khác")
    away = admin.post(f"/account/tokens/{other['id']}/revoke", data={"csrf_token": token, "next": "//evil.example"})
    assert away.headers["location"] == "/account/tokens"
