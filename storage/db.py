"""Database engine, sessions, and migrations run at start-up."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from config.inventory import mask_url
from storage.errors import DatabaseUnavailable

logger = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            # WAL lets the web UI read while ingest writes; foreign keys are off by default in SQLite.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
            # Let SQLAlchemy, not pysqlite, open transactions, so SAVEPOINTs and rollbacks behave as documented.
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
            # IMMEDIATE takes the write lock up front: a deferred transaction that reads, then writes while
            # another process wrote, fails with "database is locked" at once instead of waiting its turn.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def end_transaction(session: Session) -> None:
    """Commit what `session` has done so far and hold no lock until its next query. Call it before slow work that
    needs no database (a camera's connection test, a footage MP4 build): on SQLite every transaction takes the
    write lock (BEGIN IMMEDIATE, above), so one left open across seconds of waiting stops every other request and the
    recorder's writes. Loaded objects stay usable (the sessions do not expire them on commit)."""
    session.commit()


def wait_for_database(engine: Engine, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return
        except OperationalError as exc:
            if time.monotonic() >= deadline:
                raise DatabaseUnavailable(
                    f"database {mask_url(str(engine.url))} did not answer in {timeout_s:.0f} s: {exc.orig}. "
                    "Check that it is running and the URL (MATTHAN_DATABASE__URL) is right."
                ) from exc
            logger.info("waiting for database %s", mask_url(str(engine.url)))
            time.sleep(1.0)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


class Database:
    """The engine plus a session factory; `session()` commits on success and rolls back on error."""

    def __init__(self, url: str, *, connect_timeout_s: float = 30.0) -> None:
        self.engine = make_engine(url)
        self._connect_timeout_s = connect_timeout_s
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    def prepare(self) -> None:
        wait_for_database(self.engine, self._connect_timeout_s)
        migrate(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Commits on success, rolls back on error. A database that is down, or an SQLite file still locked by
        another writer after the 30 s busy timeout, raises DatabaseUnavailable (the web answers 503 + Retry-After)."""
        with self._factory() as session:
            try:
                yield session
                session.commit()
            except OperationalError as exc:
                session.rollback()
                raise DatabaseUnavailable(f"database {mask_url(str(self.engine.url))}: {exc.orig}") from exc
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
