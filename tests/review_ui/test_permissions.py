"""The role × write-endpoint matrix: each role is allowed or refused (403) exactly as README.md says, and every write
endpoint of the app is in the matrix, so a new one cannot ship unchecked."""

from __future__ import annotations

import re

import pytest

ROLES = ("admin", "investigator", "duty")
ANYONE = frozenset(ROLES)
CASE_WORK = frozenset({"admin", "investigator"})
USER_ADMIN = frozenset({"admin"})
CAMERA_ADMIN = frozenset({"admin"})
CLOSED_PORT = "rtsp://127.0.0.1:9/live"  # nothing listens there: a camera's connection test fails at once

# (method, path template): who may; the request body used to try it. Paths take {event} and {case} from the seed.
API_MATRIX = {
    ("POST", "/api/cases"): (CASE_WORK, {"title": "Ma trận quyền"}),
    ("POST", "/api/cases/{case_id}/export"): (CASE_WORK, {}),
    ("PATCH", "/api/cases/{case_id}"): (CASE_WORK, {"assigned": []}),
    # an evidence id that does not exist: allowed roles get 404, the others 403 before any lookup
    ("DELETE", "/api/cases/{case_id}/evidence/{evidence_id}"): (CASE_WORK, {"reason": "thử quyền"}),
    ("POST", "/api/events/{event_id}/evidence"): (CASE_WORK, {"new_case_title": "Ma trận quyền", "note": "thử"}),
    ("POST", "/api/events/{event_id}/review"): (ANYONE, {"reviewed": True}),
    # one's own password, with a wrong current one here so nothing changes: refused as invalid, never as forbidden
    ("POST", "/api/auth/password"): (ANYONE, {"current_password": "not-the-password", "new_password": "mat-khau-moi-1"}),
    ("POST", "/api/users"): (USER_ADMIN, {"username": "ma-tran-api", "role": "duty", "password": "mat-khau-ma-tran-1"}),
    ("PATCH", "/api/users/{user_id}"): (USER_ADMIN, {"full_name": "Ma trận quyền"}),
    ("POST", "/api/users/{user_id}/password"): (USER_ADMIN, {"new_password": "mat-khau-ma-tran-2"}),
    ("POST", "/api/auth/tokens"): (ANYONE, {"name": "ma trận quyền"}),
    # nobody's token: whoever passes the role check gets 404
    ("POST", "/api/auth/tokens/{token_id}/revoke"): (ANYONE, {}),
    # cameras: the connection test of a closed port (answers "unreachable"), a registration refused by that test,
    # and a camera code nobody has (404) — the seed's cameras are counted by other tests and must stay as they are
    ("POST", "/api/cameras/probe"): (CAMERA_ADMIN, {"main_url": CLOSED_PORT}),
    ("POST", "/api/cameras"): (CAMERA_ADMIN, {"code": "ma-tran-quyen", "name": "Ma trận quyền", "main_url": CLOSED_PORT}),
    ("PATCH", "/api/cameras/{camera_code}"): (CAMERA_ADMIN, {"name": "Ma trận quyền"}),
    ("POST", "/api/cameras/{camera_code}/retire"): (CAMERA_ADMIN, {"reason": "thử quyền"}),
    # live view signalling: open to every role; a camera code nobody has (404), so no stream is opened
    ("POST", "/api/live/{camera_code}/offer"): (ANYONE, {"sdp": "v=0"}),
}
# the page forms (CSRF-protected), same rules
PAGE_MATRIX = {
    ("POST", "/cases/{case_id}/export"): (CASE_WORK, {}),
    ("POST", "/cases/{case_id}"): (CASE_WORK, {"title": "Vụ việc cho ma trận quyền", "status": "open"}),
    ("POST", "/cases/{case_id}/evidence/{evidence_id}/remove"): (CASE_WORK, {"reason": "thử quyền"}),
    ("POST", "/events/{event_id}/evidence"): (CASE_WORK, {"new_case_title": "Ma trận quyền", "note": "thử"}),
    ("POST", "/events/{event_id}/review"): (ANYONE, {"reviewed": "true"}),
    ("POST", "/account/password"): (ANYONE, {"current_password": "not-the-password", "new_password": "mat-khau-moi-1",
                                            "repeat_password": "mat-khau-moi-1"}),
    ("POST", "/admin/users"): (USER_ADMIN, {"username": "ma-tran-trang", "role": "duty", "password": "mat-khau-ma-tran-1",
                                            "repeat_password": "mat-khau-ma-tran-1"}),
    ("POST", "/admin/users/{user_id}"): (USER_ADMIN, {"full_name": "Ma trận quyền", "role": "duty", "active": "on"}),
    ("POST", "/admin/users/{user_id}/password"): (USER_ADMIN, {"new_password": "mat-khau-ma-tran-3",
                                                              "repeat_password": "mat-khau-ma-tran-3"}),
    ("POST", "/account/tokens"): (ANYONE, {"name": "ma trận quyền"}),
    ("POST", "/account/tokens/{token_id}/revoke"): (ANYONE, {}),
    ("POST", "/admin/cameras"): (CAMERA_ADMIN, {"code": "ma-tran-quyen", "name": "Ma trận quyền", "source_kind": "url",
                                                "main_url": CLOSED_PORT}),
    ("POST", "/admin/cameras/{camera_code}"): (CAMERA_ADMIN, {"name": "Ma trận quyền", "source_kind": "url",
                                                              "main_url": CLOSED_PORT}),
    ("POST", "/admin/cameras/{camera_code}/enabled"): (CAMERA_ADMIN, {}),
    ("POST", "/admin/cameras/{camera_code}/retire"): (CAMERA_ADMIN, {"confirm": "on", "reason": "thử quyền"}),
}
# no role needed: logging in and out
PUBLIC = {("POST", "/api/auth/login"), ("POST", "/api/auth/logout"), ("POST", "/login"), ("POST", "/logout")}
WRITE_METHODS = {"post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def targets(seed, live_server) -> dict[str, int]:
    import httpx

    from tests.review_ui.conftest import PASSWORDS

    with httpx.Client(base_url=live_server, timeout=20) as client:
        client.post("/api/auth/login", json={"username": "admin", "password": PASSWORDS["admin"]})
        case = client.post("/api/cases", json={"title": "Vụ việc cho ma trận quyền"}).json()
        tagged = client.post(f"/api/events/{seed.events['school_noon'].id}/evidence",
                             json={"case_id": case["id"], "note": "để xuất"})  # fmt: skip
        assert tagged.status_code in (201, 409), tagged.text
        # a user of its own for the user administration rows (the seeded users are shared with other tests)
        user = client.post("/api/users", json={"username": "ma-tran-quyen", "full_name": "Ma trận quyền", "role": "duty",
                                               "password": "mat-khau-ma-tran-1"}).json()  # fmt: skip
    return {"case_id": case["id"], "event_id": seed.events["market"].id, "evidence_id": 2**31 - 1,
            "user_id": user["id"], "token_id": 2**31 - 1, "camera_code": "khong-co-camera"}


def test_every_api_write_endpoint_is_in_the_matrix(login) -> None:
    schema = login("duty").get("/api/openapi.json").json()
    writes = {(method.upper(), "/api" + path if not path.startswith("/api") else path)
              for path, item in schema["paths"].items() for method in item if method in WRITE_METHODS}
    assert writes == set(API_MATRIX) | {w for w in PUBLIC if w[1].startswith("/api")}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", sorted(API_MATRIX), ids=lambda e: f"{e[0]} {e[1]}")
def test_api_write_matrix(login, targets, role: str, endpoint: tuple[str, str]) -> None:
    allowed, body = API_MATRIX[endpoint]
    answer = login(role).request(endpoint[0], endpoint[1].format(**targets), json=body)
    if role in allowed:
        assert answer.status_code not in (401, 403) and answer.status_code < 500, (role, answer.status_code, answer.text)
    else:
        assert answer.status_code == 403, (role, answer.status_code, answer.text)
        assert "may not" in answer.json()["detail"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", sorted(PAGE_MATRIX), ids=lambda e: f"{e[0]} {e[1]}")
def test_page_form_matrix(login, targets, role: str, endpoint: tuple[str, str]) -> None:
    allowed, fields = PAGE_MATRIX[endpoint]
    client = login(role)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(f"/events/{targets['event_id']}").text)
    form = {**fields, "csrf_token": token.group(1) if token else ""}
    answer = client.request(endpoint[0], endpoint[1].format(**targets), data=form)
    if role in allowed:
        assert answer.status_code not in (401, 403) and answer.status_code < 500, (role, answer.status_code)
    else:
        assert answer.status_code == 403, (role, answer.status_code)


def test_writes_need_a_login(anonymous, targets) -> None:
    for method, path in sorted(API_MATRIX):
        assert anonymous.request(method, path.format(**targets), json={}).status_code == 401, path
