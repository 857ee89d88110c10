"""User administration by administrators: create, change role, disable, reset a password; the guard rails that keep
the service administrable; the audit trail. Every test makes its own users (the seeded ones are shared)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from storage.audit import check_audit_chain
from storage.db import Database
from storage.models import AuditEntry, User
from storage.repo.users import UserRuleBroken, create_user, update_user

NOBODY = 2**31 - 1  # a user id that does not exist
NOT_A_CASE = f"/api/cases/{NOBODY}/export"  # duty: 403 (role); investigator and admin: 404 (no such case)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def clients(live_server: str) -> Iterator[Callable[[], httpx.Client]]:
    made: list[httpx.Client] = []

    def _client() -> httpx.Client:
        made.append(httpx.Client(base_url=live_server, timeout=20))
        return made[-1]

    yield _client
    for client in made:
        client.close()


def log_in(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post("/api/auth/login", json={"username": username, "password": password})


def make_user(admin: httpx.Client, role: str, password: str, **extra: str) -> dict:
    answer = admin.post("/api/users", json={"username": unique(role[:4]), "role": role, "password": password, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()


def csrf(client: httpx.Client, page: str = "/events") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).text).group(1)


def audit_for(ui_db, username: str) -> list[AuditEntry]:
    with ui_db.session() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.subject == f"user:{username}")
                                  .order_by(AuditEntry.id)).all()  # fmt: skip
        session.expunge_all()
        return list(entries)


def test_an_administrator_creates_a_user_who_can_then_log_in(login, clients, ui_db) -> None:
    admin = login("admin")
    name = unique("can-bo")
    created = admin.post("/api/users", json={"username": name, "full_name": "Phạm Thị Mới", "role": "duty",
                                             "password": "mat-khau-dau-1"})  # fmt: skip
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["username"] == name and body["full_name"] == "Phạm Thị Mới" and body["role"] == "duty"
    assert body["active"] is True and "mat-khau-dau-1" not in created.text and "argon2" not in created.text
    assert name in [u["username"] for u in admin.get("/api/users").json()]
    assert admin.get(f"/api/users/{body['id']}").json()["username"] == name

    newcomer = clients()
    assert log_in(newcomer, name, "mat-khau-dau-1").status_code == 200
    assert newcomer.get("/api/auth/me").json()["role"] == "duty"

    # refused input: a taken name, a name with spaces or accents, a short password, an unknown role
    again = admin.post("/api/users", json={"username": name, "role": "duty", "password": "mat-khau-dau-1"})
    assert again.status_code == 409 and "exists already" in again.json()["detail"]
    for bad in ({"username": "có dấu", "role": "duty", "password": "mat-khau-dau-1"},
                {"username": unique("ngan"), "role": "duty", "password": "ngan"},
                {"username": unique("vai-tro"), "role": "root", "password": "mat-khau-dau-1"}):
        refused = admin.post("/api/users", json=bad)
        assert refused.status_code == 422, refused.text
        assert bad["password"] not in refused.text
    created_entries = [e for e in audit_for(ui_db, name) if e.action == "user.create"]
    assert [(e.actor, e.details) for e in created_entries] == [("admin", {"role": "duty"})]


@pytest.mark.parametrize("role", ["duty", "investigator"])
def test_other_roles_are_refused_on_every_user_endpoint(login, role: str) -> None:
    client = login(role)
    target = login("admin").get("/api/users").json()[0]["id"]
    calls = [
        ("GET", "/api/users", None), ("GET", f"/api/users/{target}", None),
        ("POST", "/api/users", {"username": unique("x"), "role": "admin", "password": "mat-khau-chiem-1"}),
        ("PATCH", f"/api/users/{target}", {"role": role}),
        ("POST", f"/api/users/{target}/password", {"new_password": "mat-khau-chiem-1"}),
        # refused before the body is read: an invalid one changes nothing
        ("PATCH", f"/api/users/{target}", {"role": "nope", "extra": 1}),
    ]
    for method, path, body in calls:
        answer = client.request(method, path, json=body)
        assert answer.status_code == 403, (method, path, answer.status_code)
        assert "may not" in answer.json()["detail"]
    token = csrf(client)
    for path in ("/admin/users", f"/admin/users/{target}"):
        assert client.get(path).status_code == 403
    for path, form in (("/admin/users", {"username": unique("x"), "role": "admin", "password": "mat-khau-chiem-1",
                                         "repeat_password": "mat-khau-chiem-1"}),
                       (f"/admin/users/{target}", {"role": role, "active": "on"}),
                       (f"/admin/users/{target}/password", {"new_password": "mat-khau-chiem-1",
                                                           "repeat_password": "mat-khau-chiem-1"})):
        assert client.post(path, data={**form, "csrf_token": token}).status_code == 403, path
    assert 'id="nav-users"' not in client.get("/events").text
    assert 'id="nav-users"' in login("admin").get("/events").text


def test_a_role_change_applies_to_the_next_request(login, clients, ui_db) -> None:
    admin = login("admin")
    user = make_user(admin, "duty", "mat-khau-vai-tro-1")
    them = clients()
    assert log_in(them, user["username"], "mat-khau-vai-tro-1").status_code == 200
    assert them.post(NOT_A_CASE, json={}).status_code == 403
    assert them.get("/api/users").status_code == 403

    changed = admin.patch(f"/api/users/{user['id']}", json={"role": "investigator", "full_name": "Đã đổi"})
    assert changed.status_code == 200 and changed.json()["role"] == "investigator"
    assert them.post(NOT_A_CASE, json={}).status_code == 404  # the same session, now past the role check
    assert them.get("/api/auth/me").json()["role"] == "investigator"

    assert admin.patch(f"/api/users/{user['id']}", json={"role": "admin"}).status_code == 200
    assert them.get("/api/users").status_code == 200
    assert admin.patch(f"/api/users/{user['id']}", json={"role": "duty"}).status_code == 200
    assert them.get("/api/users").status_code == 403

    updates = [e.details for e in audit_for(ui_db, user["username"]) if e.action == "user.update"]
    assert updates == [{"role": ["duty", "investigator"], "full_name": ["", "Đã đổi"]},
                       {"role": ["investigator", "admin"]}, {"role": ["admin", "duty"]}]
    # nothing changed, nothing written
    assert admin.patch(f"/api/users/{user['id']}", json={"role": "duty"}).status_code == 200
    assert len([e for e in audit_for(ui_db, user["username"]) if e.action == "user.update"]) == 3
    assert admin.patch(f"/api/users/{NOBODY}", json={"role": "duty"}).status_code == 404


def test_disabling_ends_sessions_and_tokens(login, clients, ui_db) -> None:
    admin = login("admin")
    user = make_user(admin, "investigator", "mat-khau-khoa-1")
    session_client, script = clients(), clients()
    assert log_in(session_client, user["username"], "mat-khau-khoa-1").status_code == 200
    token = session_client.post("/api/auth/tokens", json={"name": "xuất hàng ngày"}).json()["token"]
    script.headers["Authorization"] = f"Bearer {token}"
    assert script.get("/api/auth/me").status_code == 200

    disabled = admin.patch(f"/api/users/{user['id']}", json={"active": False})
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    assert session_client.get("/api/auth/me").status_code == 401
    gone = script.get("/api/auth/me")
    assert gone.status_code == 401 and "/account/tokens" in gone.json()["detail"]
    assert log_in(clients(), user["username"], "mat-khau-khoa-1").status_code == 401
    listed = {u["username"]: u for u in admin.get("/api/users").json()}
    assert listed[user["username"]]["active"] is False

    entry = [e for e in audit_for(ui_db, user["username"]) if e.action == "user.update"][-1]
    assert entry.actor == "admin" and entry.details == {"active": [True, False], "tokens_revoked": 1}

    # enabled again: a new log-in works, but the old session and the old token stay dead
    assert admin.patch(f"/api/users/{user['id']}", json={"active": True}).status_code == 200
    assert session_client.get("/api/auth/me").status_code == 401
    assert script.get("/api/auth/me").status_code == 401
    assert log_in(clients(), user["username"], "mat-khau-khoa-1").status_code == 200


def test_a_password_reset_ends_the_users_sessions(login, clients, ui_db) -> None:
    admin = login("admin")
    user = make_user(admin, "duty", "mat-khau-quen-1")
    old = clients()
    assert log_in(old, user["username"], "mat-khau-quen-1").status_code == 200

    short = admin.post(f"/api/users/{user['id']}/password", json={"new_password": "ngan"})
    assert short.status_code == 422
    reset = admin.post(f"/api/users/{user['id']}/password", json={"new_password": "mat-khau-moi-cap-2"})
    assert reset.status_code == 204, reset.text
    assert old.get("/api/auth/me").status_code == 401
    assert log_in(clients(), user["username"], "mat-khau-quen-1").status_code == 401
    assert log_in(clients(), user["username"], "mat-khau-moi-cap-2").status_code == 200
    assert admin.get("/api/auth/me").status_code == 200  # the administrator's own session goes on

    entries = [e for e in audit_for(ui_db, user["username"]) if e.action == "user.password_reset"]
    assert [(e.actor, e.details) for e in entries] == [("admin", {})]
    assert admin.post(f"/api/users/{NOBODY}/password", json={"new_password": "mat-khau-moi-cap-2"}).status_code == 404


def test_an_administrator_cannot_disable_demote_or_reset_themselves(login, clients) -> None:
    second = make_user(login("admin"), "admin", "mat-khau-qtv-2")
    me = clients()
    assert log_in(me, second["username"], "mat-khau-qtv-2").status_code == 200
    for change, words in (({"active": False}, "cannot disable your own account"),
                          ({"role": "duty"}, "cannot remove your own administrator role"),
                          ({"role": "investigator", "active": False}, "cannot remove your own administrator role")):
        refused = me.patch(f"/api/users/{second['id']}", json=change)
        assert refused.status_code == 409 and words in refused.json()["detail"], refused.text
    own = me.post(f"/api/users/{second['id']}/password", json={"new_password": "mat-khau-qtv-3"})
    assert own.status_code == 409 and "/api/auth/password" in own.json()["detail"]
    still = me.get(f"/api/users/{second['id']}").json()
    assert still["active"] is True and still["role"] == "admin"
    # a name change of one's own is fine
    assert me.patch(f"/api/users/{second['id']}", json={"full_name": "Quản trị hai"}).status_code == 200


@pytest.fixture
def lone_db(tmp_path: Path) -> Iterator[Database]:
    """A database of its own, so that it can have a single administrator (the shared one must keep its admins)."""
    database = Database(f"sqlite:///{tmp_path}/lone.sqlite", connect_timeout_s=5)
    database.prepare()
    yield database
    database.dispose()


def test_the_last_active_administrator_stays(lone_db: Database) -> None:
    with lone_db.session() as session:
        only = create_user(session=session, username="chi-mot", password="mat-khau-qtv-1", role="admin")
        # the acting user is somebody else: the rule holds whoever asks (e.g. two admins demoting each other)
        other = create_user(session=session, username="nguoi-khac", password="mat-khau-khac-1", role="duty")
        for change in ({"active": False}, {"role": "duty"}):
            with pytest.raises(UserRuleBroken) as refused:
                update_user(session=session, user=only, actor=other, **change)
            assert refused.value.code == "last_admin" and "last active administrator" in str(refused.value)
        assert only.active and only.role == "admin"
        # with a second active administrator the first may go
        update_user(session=session, user=other, actor=only, role="admin")
        update_user(session=session, user=only, actor=other, active=False)
        assert not only.active
        with pytest.raises(UserRuleBroken):
            update_user(session=session, user=other, actor=only, role="investigator")
    with lone_db.session() as session:
        assert check_audit_chain(session=session) is None
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["user.create", "user.create", "user.update", "user.update"]
        assert session.scalars(select(User.active).where(User.username == "chi-mot")).one() is False


def test_audit_entries_never_hold_a_password_and_the_chain_holds(login, ui_db) -> None:
    admin = login("admin")
    user = make_user(admin, "duty", "mat-khau-bi-mat-9")
    admin.post(f"/api/users/{user['id']}/password", json={"new_password": "mat-khau-bi-mat-10"})
    admin.patch(f"/api/users/{user['id']}", json={"active": False})
    with ui_db.session() as session:
        assert check_audit_chain(session=session) is None
        stored_hash = session.scalars(select(User.password_hash).where(User.id == user["id"])).one()
    entries = audit_for(ui_db, user["username"])
    text = json.dumps([(e.action, e.details) for e in entries], ensure_ascii=False)
    assert {"user.create", "user.password_reset", "user.update"} <= {e.action for e in entries}
    for secret in ("mat-khau-bi-mat-9", "mat-khau-bi-mat-10", stored_hash, "argon2"):
        assert secret not in text


def test_the_user_pages(login, clients) -> None:
    admin = login("admin")
    page = admin.get("/admin/users")
    assert page.status_code == 200 and 'id="create-user-form"' in page.text and "Quản lý người dùng" in page.text
    assert 'aria-current="page">Người dùng' in page.text
    token = csrf(admin, "/admin/users")
    name = unique("trang")
    form = {"csrf_token": token, "username": name, "full_name": "Võ Văn Trang", "role": "investigator",
            "password": "mat-khau-trang-1", "repeat_password": "khac-han-1"}
    mismatch = admin.post("/admin/users", data=form)
    assert mismatch.status_code == 422 and "không khớp" in mismatch.text and f'value="{name}"' in mismatch.text
    form["repeat_password"] = "mat-khau-trang-1"
    bad_name = admin.post("/admin/users", data={**form, "username": "tên có dấu"})
    assert bad_name.status_code == 422 and "chữ không dấu" in bad_name.text
    created = admin.post("/admin/users", data=form)
    assert created.status_code == 303
    where = created.headers["location"]
    user_id = int(where.rsplit("/", 1)[1])
    detail = admin.get(where)
    assert detail.status_code == 200 and f"Đã tạo người dùng {name}" in detail.text
    assert 'id="edit-user-form"' in detail.text and 'id="reset-password-form"' in detail.text
    taken = admin.post("/admin/users", data=form)
    assert taken.status_code == 422 and "đã được dùng" in taken.text

    them = clients()
    assert log_in(them, name, "mat-khau-trang-1").status_code == 200
    # an unticked "active" box disables the account
    saved = admin.post(where, data={"csrf_token": token, "full_name": "Võ Văn Trang", "role": "duty"})
    assert saved.status_code == 303
    after = admin.get(where)
    assert f"Đã lưu thay đổi của {name}" in after.text and 'id="user-inactive"' in after.text
    assert them.get("/api/auth/me").status_code == 401
    assert admin.get(f"/api/users/{user_id}").json()["role"] == "duty"

    reset = admin.post(f"{where}/password", data={"csrf_token": token, "new_password": "mat-khau-trang-2",
                                                  "repeat_password": "mat-khau-trang-2"})  # fmt: skip
    assert reset.status_code == 303 and "Đã đặt lại mật khẩu" in admin.get(where).text

    # one's own page: no reset form, and disabling oneself is refused in words
    me = admin.get("/api/auth/me").json()["id"]
    own = admin.get(f"/admin/users/{me}")
    assert 'id="reset-password-form"' not in own.text and "/account/password" in own.text
    refused = admin.post(f"/admin/users/{me}", data={"csrf_token": token, "full_name": "Nguyễn Văn Quản",
                                                     "role": "admin"})  # fmt: skip
    assert refused.status_code == 409 and "không thể tự khóa" in refused.text
    assert admin.get("/api/auth/me").status_code == 200
    assert admin.get(f"/admin/users/{NOBODY}").status_code == 404

    admin.get("/lang/en")
    english = admin.get("/admin/users")
    assert "User administration" in english.text and "Create user" in english.text
    admin.get("/lang/vi")
