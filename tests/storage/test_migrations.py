"""Migrations: the newest revision builds exactly the schema the models describe, and upgrades keep data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from sqlalchemy import text

from storage.db import MIGRATIONS, make_engine, migrate
from storage.models import Base


def test_head_matches_the_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == [], f"models and migrations disagree; add a migration: {diff}"


def test_upgrade_from_the_first_revision_keeps_rows(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text("INSERT INTO site (id, code, name, kind, province) VALUES (1, 'x', 'X', 'commune', '')"))
        conn.execute(text(
            "INSERT INTO camera (id, site_id, code, name, village, address, view, main_url, username, "
            "password_encrypted, enabled, retention_days, funding_source, donor, amount_vnd, installer, status, "
            "status_detail) VALUES (1, 1, 'c', 'C', '', '', '', 'rtsp://h/x', '', '', 1, 30, 'community', '', 0, '', "
            "'unknown', '')"))
        conn.execute(text(
            "INSERT INTO event (id, camera_id, kind, start_at, labels, score, boxes, clip_status, reviewed) "
            "VALUES (1, 1, 'motion', :t, '[]', 0, '[]', 'pending', 0)"), {"t": dt.datetime(2026, 1, 1)})
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT detail FROM event WHERE id = 1")).scalar_one() == ""
        assert conn.execute(text("SELECT fps FROM camera WHERE id = 1")).scalar_one() is None
