"""When the object store cannot be reached the UI answers 503 with what to do, and tagging leaves nothing behind."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from review_ui.app import create_app
from storage.models import Case
from storage.objectstore import S3ObjectStore
from ui_server import free_port, serve


def test_unreachable_store_gives_503(ui_settings, ui_db, seed) -> None:
    # A real S3 client pointed at a port where nothing listens: the same failure as MinIO being down.
    down = S3ObjectStore(endpoint=f"127.0.0.1:{free_port()}", bucket="matthan", access_key="k", secret_key="s" * 12,
                         secure=False)
    with serve(create_app(ui_settings, db=ui_db, store=down)) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert client.post("/api/auth/login", json={"username": "investigator",
                                                     "password": seed.passwords["investigator"]}).status_code == 200
        ev = seed.events["school_noon"]
        clip = client.get(f"/media/events/{ev.id}/clip.mp4")
        assert clip.status_code == 503
        assert clip.headers["retry-after"] == "30"
        assert "Try again" in clip.text and "administrator" in clip.text

        title = "Không được tạo khi kho lưu trữ hỏng"
        tag = client.post(f"/api/events/{ev.id}/evidence", json={"new_case_title": title, "note": "thử"})
        assert tag.status_code == 503
        assert "object store cannot be reached" in tag.json()["detail"]
        with ui_db.session() as session:
            assert session.scalars(select(Case).where(Case.title == title)).first() is None

        assert client.get(f"/api/events/{ev.id}").status_code == 200  # what needs only the database still works
