"""Migrations, on SQLite and on a real PostgreSQL: the newest revision builds exactly the schema the models describe,
upgrades keep data, and every revision downgrades back to an empty database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
import pytest
from sqlalchemy import inspect, text

from storage.db import MIGRATIONS, make_engine, migrate
from storage.models import Base


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'm.db'}"
    return request.getfixturevalue("postgres_cluster").create_database("migrations")


def test_head_matches_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == [], f"models and migrations disagree; add a migration: {diff}"


def test_upgrade_from_the_first_revision_keeps_rows(database_url: str) -> None:
    engine = make_engine(database_url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text("INSERT INTO site (id, code, name, kind, province) VALUES (1, 'x', 'X', 'commune', '')"))
        conn.execute(text(
            "INSERT INTO camera (id, site_id, code, name, village, address, view, main_url, username, "
            "password_encrypted, enabled, retention_days, funding_source, donor, amount_vnd, installer, status, "
            "status_detail) VALUES (1, 1, 'c', 'C', '', '', '', 'rtsp://h/x', '', '', :yes, 30, 'community', '', 0, "
            "'', 'unknown', '')"), {"yes": True})
        conn.execute(text(
            "INSERT INTO event (id, camera_id, kind, start_at, labels, score, boxes, clip_status, reviewed) "
            "VALUES (1, 1, 'motion', :t, '[]', 0, '[]', 'pending', :no)"),
            {"t": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "no": False})
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT detail FROM event WHERE id = 1")).scalar_one() == ""
        assert conn.execute(text("SELECT fps FROM camera WHERE id = 1")).scalar_one() is None


def test_every_revision_downgrades_to_nothing(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(engine)  # and up again
    assert "audit_entry" in inspect(engine).get_table_names()
