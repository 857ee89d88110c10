"""Log-in throttling and changing one's own password (which ends one's other sessions)."""

from __future__ import annotations

import re
import uuid

import httpx
from sqlalchemy import select

from storage.models import AuditEntry
from storage.repo.users import MAX_FAILURES_PER_USER, create_user


def new_user(ui_db, password: str, role: str = "investigator") -> str:
    name = f"u-{uuid.uuid4().hex[:8]}"
    with ui_db.session() as session:
        create_user(session=session, username=name, password=password, role=role)
    return name


def api_login(url: str, username: str, password: str) -> tuple[httpx.Client, httpx.Response]:
    client = httpx.Client(base_url=url, timeout=20)
    return client, client.post("/api/auth/login", json={"username": username, "password": password})


def test_too_many_failures_block_the_account_even_with_the_right_password(live_server, ui_db, login) -> None:
    name = new_user(ui_db, "dung-mat-khau-1")
    for _ in range(MAX_FAILURES_PER_USER):
        client, answer = api_login(live_server, name, "sai-mat-khau")
        client.close()
        assert answer.status_code == 401
    client, blocked = api_login(live_server, name, "dung-mat-khau-1")
    client.close()
    assert blocked.status_code == 429, blocked.text
    assert 0 < int(blocked.headers["retry-after"]) <= 15 * 60 and "try again in" in blocked.json()["detail"]
    # the page says so in Vietnamese, with the minutes to wait
    with httpx.Client(base_url=live_server, timeout=20) as browser:
        token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text).group(1)
        page = browser.post("/login", data={"csrf_token": token, "username": name, "password": "dung-mat-khau-1"})
    assert page.status_code == 429 and "Đăng nhập sai quá nhiều lần" in page.text and "phút" in page.text
    # other accounts are not affected
    assert login("investigator").get("/api/auth/me").status_code == 200


def test_a_success_clears_earlier_failures(live_server, ui_db) -> None:
    name = new_user(ui_db, "dung-mat-khau-2")
    for _ in range(2):
        for _ in range(MAX_FAILURES_PER_USER - 1):
            api_login(live_server, name, "sai")[0].close()
        client, answer = api_login(live_server, name, "dung-mat-khau-2")
        client.close()
        assert answer.status_code == 200, answer.text


def test_changing_the_password_ends_the_other_sessions(live_server, ui_db) -> None:
    name = new_user(ui_db, "mat-khau-cu-123")
    other, _ = api_login(live_server, name, "mat-khau-cu-123")
    mine, _ = api_login(live_server, name, "mat-khau-cu-123")
    try:
        wrong = mine.post("/api/auth/password", json={"current_password": "khong-dung", "new_password": "mat-khau-moi-456"})
        assert wrong.status_code == 422 and "current password is wrong" in wrong.json()["detail"]
        short = mine.post("/api/auth/password", json={"current_password": "mat-khau-cu-123", "new_password": "ngan"})
        assert short.status_code == 422
        changed = mine.post("/api/auth/password",
                            json={"current_password": "mat-khau-cu-123", "new_password": "mat-khau-moi-456"})
        assert changed.status_code == 204, changed.text
        assert mine.get("/api/auth/me").status_code == 200  # this session goes on
        assert other.get("/api/auth/me").status_code == 401  # the other one ended
    finally:
        other.close()
        mine.close()
    assert api_login(live_server, name, "mat-khau-cu-123")[1].status_code == 401
    assert api_login(live_server, name, "mat-khau-moi-456")[1].status_code == 200
    with ui_db.session() as session:
        assert session.scalars(select(AuditEntry.action).where(AuditEntry.subject == f"user:{name}",
                                                               AuditEntry.action == "user.password")).all()


def test_the_password_page(live_server, ui_db) -> None:
    name = new_user(ui_db, "mat-khau-trang-1", role="duty")
    with httpx.Client(base_url=live_server, timeout=20) as browser:
        token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text).group(1)
        assert browser.post("/login", data={"csrf_token": token, "username": name,
                                            "password": "mat-khau-trang-1"}).status_code == 303
        form = browser.get("/account/password")
        assert form.status_code == 200 and 'id="password-form"' in form.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        mismatch = browser.post("/account/password", data={"csrf_token": token, "current_password": "mat-khau-trang-1",
                                                           "new_password": "moi-moi-moi-1", "repeat_password": "khac-han-1"})
        assert mismatch.status_code == 422 and "không khớp" in mismatch.text
        done = browser.post("/account/password", data={"csrf_token": token, "current_password": "mat-khau-trang-1",
                                                       "new_password": "moi-moi-moi-1", "repeat_password": "moi-moi-moi-1"})
        assert done.status_code == 303
        assert "Đã đổi mật khẩu" in browser.get("/events").text
