"""Server-rendered pages over real HTTP: login redirects, CSRF, filters in local time, the tagging form, i18n."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from storage.models import AuditEntry

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _csrf(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def _form_login(client: httpx.Client, username: str, password: str, next_path: str = "/events") -> httpx.Response:
    page = client.get(f"/login?next={next_path}")
    assert page.status_code == 200
    return client.post("/login", data={"username": username, "password": password, "next": next_path,
                                       "csrf_token": _csrf(page.text)})


def _event_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr data-event-id="(\d+)"', html)]


def test_pages_redirect_to_login_and_back(anonymous: httpx.Client, seed) -> None:
    assert anonymous.get("/").headers["location"] == "/events"
    for path in ("/events", "/cases", f"/events/{seed.events['market'].id}", "/cases/1", "/events?camera=cho-xa"):
        answer = anonymous.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=%2F"), path
    target = f"/events/{seed.events['market'].id}"
    assert anonymous.get(target).headers["location"] == f"/login?next=%2Fevents%2F{seed.events['market'].id}"
    login_page = anonymous.get("/login")
    assert "Đăng nhập" in login_page.text and 'lang="vi"' in login_page.text
    done = _form_login(anonymous, "duty", seed.passwords["duty"], target)
    assert done.status_code == 303 and done.headers["location"] == target
    assert anonymous.get(target).status_code == 200
    assert anonymous.get("/static/style.css").status_code == 200


def test_login_form_errors_and_csrf(anonymous: httpx.Client, seed) -> None:
    wrong = _form_login(anonymous, "duty", "wrong-password")
    assert wrong.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu." in wrong.text
    no_token = anonymous.post("/login", data={"username": "duty", "password": seed.passwords["duty"]})
    assert no_token.status_code == 403
    # the UI's own words (error_csrf), shown as they are: not folded away as a technical detail
    assert 'id="error-message"' in no_token.text and "error-detail" not in no_token.text
    assert anonymous.get("/events").status_code == 303  # still not logged in
    evil = _form_login(anonymous, "duty", seed.passwords["duty"], "//evil.example/x")
    assert evil.headers["location"] == "/events"


def test_logout_form(anonymous: httpx.Client, seed) -> None:
    _form_login(anonymous, "duty", seed.passwords["duty"])
    page = anonymous.get("/events")
    assert anonymous.post("/logout", data={}).status_code == 403  # no CSRF token: refused
    out = anonymous.post("/logout", data={"csrf_token": _csrf(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert anonymous.get("/events").status_code == 303


def test_event_list_filters_in_local_time(login, seed) -> None:
    client = login("duty")
    everything = client.get("/events")
    assert everything.status_code == 200
    assert _event_ids(everything.text)[0] == seed.events["school_next_day"].id
    assert 'src="/media/events/%d/snapshot.jpg"' % seed.events["market"].id in everything.text
    assert "01/05/2024 11:00:00" in everything.text  # 04:00 UTC shown in Hà Nội time
    assert "Chợ xã" in everything.text and "Sẵn sàng" in everything.text and "0:06" in everything.text

    by_camera = client.get("/events", params={"camera": "cho-xa"})
    assert _event_ids(by_camera.text) == [seed.events["market_pending"].id, seed.events["market"].id]
    assert '<option value="cho-xa" selected>' in by_camera.text

    # datetime-local values are local (Asia/Ho_Chi_Minh): 10:30–12:30 holds the 11:00 and 12:00 events only.
    window = client.get("/events", params={"start": "2024-05-01T10:30", "end": "2024-05-01T12:30"})
    assert _event_ids(window.text) == [seed.events["school_noon"].id, seed.events["market"].id]
    assert 'value="2024-05-01T10:30"' in window.text

    assert _event_ids(client.get("/events", params={"page": 2}).text) == []  # 5 events fit on page 1

    bad = client.get("/events", params={"start": "hôm qua"})
    assert bad.status_code == 200 and "Thời gian không hợp lệ" in bad.text
    backwards = client.get("/events", params={"start": "2024-05-01T12:00", "end": "2024-05-01T10:00"})
    assert "phải sau" in backwards.text


def test_event_page_plays_the_clip_and_is_audited(login, seed, ui_db) -> None:
    client = login("duty")
    ev = seed.events["market"]
    page = client.get(f"/events/{ev.id}")
    assert page.status_code == 200
    assert re.search(r'<video id="clip" controls autoplay muted playsinline', page.text)
    assert f'src="/media/events/{ev.id}/clip.mp4"' in page.text
    assert 'id="snapshot"' in page.text
    assert seed.clip_sha256 in page.text
    assert 'id="tag-form"' not in page.text  # a duty officer sees no tagging form
    assert "Chỉ điều tra viên hoặc quản trị viên" in page.text
    with ui_db.session() as session:
        views = session.scalars(select(AuditEntry).where(AuditEntry.action == "event.view",
                                                         AuditEntry.subject == f"event:{ev.id}",
                                                         AuditEntry.actor == "duty")).all()
        assert views
    assert client.get("/events/999999").status_code == 404
    assert "Không tìm thấy" in client.get("/events/999999").text


def test_tag_form(login, seed) -> None:
    client = login("investigator")
    ev = seed.events["school_noon"]
    page = client.get(f"/events/{ev.id}")
    token = _csrf(page.text)
    url = f"/events/{ev.id}/evidence"

    missing_note = client.post(url, data={"csrf_token": token, "new_case_title": "Vụ B", "note": " "})
    assert missing_note.status_code == 422 and "Cần nhập ghi chú." in missing_note.text
    both = client.post(url, data={"csrf_token": token, "case_id": "1", "new_case_title": "Vụ B", "note": "x"})
    assert both.status_code == 422 and "chỉ một trong hai" in both.text
    assert 'value="Vụ B"' in both.text  # what was typed is kept
    assert client.post(url, data={"new_case_title": "Vụ B", "note": "x"}).status_code == 403  # no CSRF token

    done = client.post(url, data={"csrf_token": token, "new_case_title": "Đánh nhau giờ tan học", "note": "Hai học sinh"})
    assert done.status_code == 303
    case_url = done.headers["location"].split("#")[0]
    case_page = client.get(case_url)
    assert "Đánh nhau giờ tan học" in case_page.text
    assert f'data-event-id="{ev.id}" data-sha256="{seed.clip_sha256}"' in case_page.text
    assert "Đã gắn sự kiện" in case_page.text  # the flash message, once
    assert "Đã gắn sự kiện" not in client.get(case_url).text

    case_id = case_url.rsplit("/", 1)[1]
    dup = client.post(url, data={"csrf_token": token, "case_id": case_id, "note": "lần nữa"})
    assert dup.status_code == 409 and f"Sự kiện #{ev.id} đã là chứng cứ trong vụ việc VV-" in dup.text
    assert "already evidence" not in dup.text  # the reader's words, not the store's English
    assert "Đánh nhau giờ tan học" in client.get("/cases").text

    # The other branch of the form: an existing case chosen in the select.
    other = seed.events["school_next_day"]
    page = client.get(f"/events/{other.id}")
    assert f'<option value="{case_id}">' in page.text
    into = client.post(f"/events/{other.id}/evidence", data={"csrf_token": token, "case_id": case_id, "note": "Hôm sau"})
    assert into.status_code == 303 and into.headers["location"].startswith(f"/cases/{case_id}#evidence-")
    assert re.findall(r'data-event-id="(\d+)" data-sha256', client.get(case_url).text) == [str(ev.id), str(other.id)]


def test_duty_cannot_post_the_tag_form(login, seed) -> None:
    client = login("duty")
    page = client.get(f"/events/{seed.events['school_noon'].id}")
    answer = client.post(f"/events/{seed.events['school_noon'].id}/evidence",
                         data={"csrf_token": _csrf(page.text), "new_case_title": "x", "note": "y"})
    assert answer.status_code == 403


def test_language_toggle(login) -> None:
    client = login("duty")
    assert 'id="nav-events"' in client.get("/events").text
    assert ">Sự kiện</a>" in client.get("/events").text
    switched = client.get("/lang/en", params={"next": "/cases"})
    assert switched.status_code == 303 and switched.headers["location"] == "/cases"
    english = client.get("/events")
    assert ">Events</a>" in english.text and 'lang="en"' in english.text and ">Tiếng Việt</a>" in english.text
    assert client.get("/lang/vi", params={"next": "https://evil.example"}).headers["location"] == "/events"
    assert ">Sự kiện</a>" in client.get("/events").text
