"""JSON API: log-in, log-out, 401 for anonymous callers, JSON-only writes, the OpenAPI document."""

from __future__ import annotations

import httpx



def test_anonymous_callers_get_401_json(anonymous: httpx.Client) -> None:
    for path in ("/api/events", "/api/events/1", "/api/cases", "/api/cameras", "/api/auth/me", "/api/openapi.json"):
        answer = anonymous.get(path)
        assert answer.status_code == 401, path
        assert answer.headers["content-type"].startswith("application/json")
        assert "log" in answer.json()["detail"]


def test_login_me_logout(anonymous: httpx.Client, seed) -> None:
    wrong = anonymous.post("/api/auth/login", json={"username": "investigator", "password": "not-the-password"})
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "wrong username or password"}
    unknown = anonymous.post("/api/auth/login", json={"username": "nobody", "password": "whatever-123"})
    assert unknown.status_code == 401

    ok = anonymous.post("/api/auth/login", json={"username": "investigator", "password": seed.passwords["investigator"]})
    assert ok.status_code == 200
    assert ok.json()["role"] == "investigator"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie

    me = anonymous.get("/api/auth/me")
    assert me.status_code == 200
    assert me.json()["username"] == "investigator"
    assert me.json()["full_name"] == "Trần Thị Điều"

    assert anonymous.post("/api/auth/logout", json={}).status_code == 204
    assert anonymous.get("/api/auth/me").status_code == 401


def test_a_tampered_cookie_is_not_a_login(login, live_server: str) -> None:
    client = login("admin")
    forged = {name: value[:-4] + "AAAA" for name, value in client.cookies.items()}
    with httpx.Client(base_url=live_server, cookies=forged) as other:
        assert other.get("/api/auth/me").status_code == 401


def test_api_writes_must_be_json(anonymous: httpx.Client, login, seed) -> None:
    # A cross-site HTML form can only send form encodings; the API refuses them, which is its CSRF protection.
    form = anonymous.post("/api/auth/login", data={"username": "admin", "password": seed.passwords["admin"]})
    assert form.status_code == 415
    assert "application/json" in form.json()["detail"]
    client = login("investigator")
    plain = client.post("/api/cases", content='{"title": "x"}', headers={"content-type": "text/plain"})
    assert plain.status_code == 415


def test_malformed_login_bodies_are_422_without_echoing_the_password(anonymous: httpx.Client) -> None:
    for body in ({"username": "admin"}, {"username": "admin", "password": 12345678},
                 {"username": "", "password": "x"}, {"username": "a" * 101, "password": "x"}):
        answer = anonymous.post("/api/auth/login", json=body)
        assert answer.status_code == 422, body
        assert "12345678" not in answer.text
    broken = anonymous.post("/api/auth/login", content=b'{"username": ', headers={"content-type": "application/json"})
    assert broken.status_code == 422
    assert "JSON" in broken.json()["detail"]


def test_openapi_document_and_docs_page(login) -> None:
    client = login("duty")
    doc = client.get("/api/openapi.json")
    assert doc.status_code == 200
    spec = doc.json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path in ("/api/events", "/api/events/{event_id}", "/api/events/{event_id}/evidence", "/api/cases",
                 "/api/cases/{case_id}", "/api/cameras", "/api/auth/login", "/api/auth/logout", "/api/auth/me"):
        assert path in paths, path
    assert "/events" not in paths and "/media/events/{event_id}/clip.mp4" not in paths  # pages stay out
    assert "TagEvidenceIn" in spec["components"]["schemas"]
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert "/api/events/{event_id}/evidence" in docs.text
    assert "cdn" not in docs.text.lower()


def test_cameras(login) -> None:
    cameras = login("duty").get("/api/cameras").json()
    assert [c["code"] for c in cameras] == ["cho-xa", "cong-truong"]
    assert cameras[1]["name"] == "Cổng trường tiểu học"
    assert all("url" not in key for c in cameras for key in c)  # no stream URLs leave the server
