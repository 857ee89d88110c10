"""The storage tests run on both databases: SQLite (the embedded default) and a real PostgreSQL (the one at scale)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import Settings
from tests.conftest import make_settings


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return make_settings(tmp_path)
    url = request.getfixturevalue("postgres_cluster").create_database("storage")
    return make_settings(tmp_path, database={"url": url})
