"""Camera credentials are never shown: not in API answers, not in pages, not encrypted either."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Camera
from tests.review_ui.conftest import CAMERA_PASSWORD


def test_no_answer_carries_a_camera_password(login, seed, ui_db) -> None:
    with ui_db.session() as session:
        token = session.scalars(select(Camera.password_encrypted).where(Camera.code == "cong-truong")).one()
    assert token and CAMERA_PASSWORD not in token
    client = login("admin")
    event_id = next(iter(seed.events.values())).id
    for path in ["/api/cameras", "/api/events", f"/api/events/{event_id}", "/api/openapi.json", "/events",
                 f"/events/{event_id}", "/cases"]:
        answer = client.get(path)
        assert answer.status_code == 200, path
        for secret in (CAMERA_PASSWORD, token, "password_encrypted", "rtsp://"):
            assert secret not in answer.text, f"{path} shows {secret[:12]}…"
