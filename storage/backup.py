"""Backup and restore of a station: the database (SQLite online backup API or pg_dump -Fc) and a mirror of the
object store, with a manifest of SHA-256 so a restore is checked before it touches anything.

A backup directory holds `database.sqlite3` or `database.pgdump`, `objects/<key>` (one file per object) and
`manifest.json`, written last. Run it again into the same directory: only new objects are copied, objects the store
no longer has are removed from the mirror, and the database copy is replaced.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from storage.errors import BackupError
from storage.objectstore.base import ObjectStore, file_sha256, validate_key

logger = logging.getLogger(__name__)
FORMAT = "matthan-backup/1"
MANIFEST = "manifest.json"
OBJECTS = "objects"
DB_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
PG_TIMEOUT_S = 6 * 3600


@dataclass(frozen=True)
class BackupResult:
    path: Path
    database_kind: str
    objects: int
    copied: int
    removed: int
    bytes: int


@dataclass(frozen=True)
class BackupCheck:
    """Every file of a backup read again and compared with the manifest; `problems` name each one that differs."""

    path: Path
    files: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class RestoreResult:
    database_kind: str
    objects: int
    uploaded: int


def database_kind(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in DB_FILES:
        raise BackupError(f"cannot back up a {backend} database: only sqlite and postgresql are supported")
    return backend


# --- backup -----------------------------------------------------------------------------------------------------


def backup(*, db_url: str, store: ObjectStore, dest: Path) -> BackupResult:
    """Database first, then the objects: a segment uploaded meanwhile is in the mirror without its row (harmless),
    never a row without its segment (unless retention deleted it in between, which the manifest then shows)."""
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create the backup directory {dest}: {exc.strerror}; create it owned by the user "
                          "that runs the backup") from exc
    kind = database_kind(db_url)
    with _locked(dest):
        previous = _read_manifest(dest) if (dest / MANIFEST).exists() else {}
        db_file = dest / DB_FILES[kind]
        pending = db_file.with_name(db_file.name + ".new")
        (_dump_sqlite if kind == "sqlite" else _dump_postgres)(db_url, pending)
        revision = _revision(kind, pending, db_url)
        os.replace(pending, db_file)
        for other in set(DB_FILES.values()) - {db_file.name}:
            (dest / other).unlink(missing_ok=True)
        size, sha = file_sha256(db_file)
        objects, copied, removed, total = _mirror(store, dest / OBJECTS, previous.get("objects", {}))
        manifest = {
            "format": FORMAT,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "database": {"kind": kind, "file": db_file.name, "bytes": size, "sha256": sha, "alembic_revision": revision},
            "objectstore": {"backend": store.name, "objects": len(objects), "bytes": total},
            "objects": objects,
        }
        tmp = dest / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, dest / MANIFEST)
    logger.info("backup in %s: %s database, %d objects (%d copied, %d removed)", dest, kind, len(objects), copied,
                removed)
    return BackupResult(path=dest, database_kind=kind, objects=len(objects), copied=copied, removed=removed, bytes=total)


def _dump_sqlite(url: str, target: Path) -> None:
    # The online backup API copies a consistent snapshot, WAL included; a plain copy of a live WAL database is not one.
    path = _sqlite_path(url)
    if not path.exists():
        raise BackupError(f"no SQLite database at {path}; check database.url (or run `matthan init` first)")
    target.unlink(missing_ok=True)
    try:
        with _sqlite(path) as source, _sqlite(target) as copy:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            verdict = copy.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite backup of {path} failed: {exc}") from exc
    if verdict != "ok":
        raise BackupError(f"the SQLite copy of {path} fails its integrity check ({verdict}); the source may be damaged")


def _dump_postgres(url: str, target: Path) -> None:
    _run_pg(["pg_dump", "--format=custom", "--file", str(target)], url, "pg_dump")


def _mirror(store: ObjectStore, root: Path, previous: dict[str, dict]) -> tuple[dict[str, dict], int, int, int]:
    root.mkdir(exist_ok=True)
    objects: dict[str, dict] = {}
    copied = total = 0
    for info in store.list():
        target = root / validate_key(info.key)
        known = previous.get(info.key)
        # Objects are immutable once written: same key and size as last time means the copy is still good.
        if known and known.get("bytes") == info.size and target.is_file() and target.stat().st_size == info.size:
            objects[info.key] = known
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            stored = store.download(info.key, target)
            objects[info.key] = {"bytes": stored.size, "sha256": stored.sha256}
            copied += 1
        total += objects[info.key]["bytes"]
    removed = 0
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_file() and path.relative_to(root).as_posix() not in objects:
            path.unlink()
            removed += 1
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return objects, copied, removed, total


# --- check ------------------------------------------------------------------------------------------------------


def check_backup(source: Path) -> BackupCheck:
    """Read every file of the backup again: missing, altered and unlisted files are named."""
    source = Path(source)
    manifest = _read_manifest(source)
    problems: list[str] = []
    database = manifest["database"]
    expected = {source / database["file"]: database}
    expected.update({source / OBJECTS / key: entry for key, entry in manifest["objects"].items()})
    for path, entry in expected.items():
        name = path.relative_to(source).as_posix()
        if not path.is_file():
            problems.append(f"missing: {name}")
            continue
        size, sha = file_sha256(path)
        if size != entry["bytes"] or sha != entry["sha256"]:
            problems.append(f"altered: {name} (SHA-256 {sha}, manifest says {entry['sha256']})")
    if (source / OBJECTS).is_dir():
        for path in sorted((source / OBJECTS).rglob("*")):
            if path.is_file() and path not in expected:
                problems.append(f"not in the manifest: {path.relative_to(source).as_posix()}")
    return BackupCheck(path=source, files=len(expected), problems=problems)


# --- restore ----------------------------------------------------------------------------------------------------


def restore(*, source: Path, db_url: str, store: ObjectStore, force: bool = False) -> RestoreResult:
    """Check the whole backup, then put the database back and upload the objects. Refuses to overwrite a database
    that holds data unless `force`. Run `matthan init` afterwards to bring an older schema up to date."""
    source = Path(source)
    checked = check_backup(source)
    if not checked.ok:
        raise BackupError(f"backup {source} failed its check, nothing was restored:\n  " + "\n  ".join(checked.problems))
    manifest = _read_manifest(source)
    kind = manifest["database"]["kind"]
    if database_kind(db_url) != kind:
        raise BackupError(f"backup {source} holds a {kind} database; set database.url to a {kind} database to "
                          "restore it (to move between engines, restore first, then copy the rows)")
    dump = source / manifest["database"]["file"]
    (_restore_sqlite if kind == "sqlite" else _restore_postgres)(dump, db_url, force)
    uploaded = 0
    for key, entry in manifest["objects"].items():
        if store.exists(key) and store.stat(key).size == entry["bytes"]:
            continue  # a restore that was interrupted goes on where it stopped
        stored = store.put_file(key, source / OBJECTS / key)
        if stored.sha256 != entry["sha256"]:
            raise BackupError(f"object {key} changed while it was restored; run restore again")
        uploaded += 1
    logger.info("restored %s database and %d objects (%d uploaded) from %s", kind, len(manifest["objects"]), uploaded,
                source)
    return RestoreResult(database_kind=kind, objects=len(manifest["objects"]), uploaded=uploaded)


def _restore_sqlite(dump: Path, url: str, force: bool) -> None:
    path = _sqlite_path(url)
    if path.exists() and not force:
        raise BackupError(f"database {path} exists; stop matthan, then move it away or pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    try:
        with _sqlite(dump) as source, _sqlite(path) as target:
            source.backup(target)
    except sqlite3.Error as exc:
        raise BackupError(f"restoring SQLite database {path} failed: {exc}") from exc


def _restore_postgres(dump: Path, url: str, force: bool) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot reach the database to restore into: {exc}; create it first (createdb)") from exc
    finally:
        engine.dispose()
    if tables and not force:
        raise BackupError(f"database {make_url(url).database} already has {len(tables)} tables; stop matthan, then "
                          "pass --force to replace them, or restore into a new empty database")
    _run_pg(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
             "--exit-on-error", str(dump)], url, "pg_restore")  # fmt: skip


# --- helpers ----------------------------------------------------------------------------------------------------


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


@contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, timeout=30)
    try:
        yield conn
    finally:
        conn.close()


def _pg_env(url: URL) -> dict[str, str]:
    # libpq variables, so the password never shows in a process list
    env = dict(os.environ)
    for name, value in (("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.username),
                        ("PGPASSWORD", url.password), ("PGDATABASE", url.database),
                        ("PGSSLMODE", url.query.get("sslmode"))):  # fmt: skip
        if value:
            env[name] = str(value)
    return env


def _run_pg(cmd: list[str], url: str, what: str) -> None:
    if shutil.which(cmd[0]) is None:
        raise BackupError(f"{cmd[0]} is not installed: apt-get install postgresql-client (the same major version "
                          "as the server, or newer)")
    parsed = make_url(url)
    cmd = [*cmd, "--dbname", parsed.database or ""] if what == "pg_restore" else cmd
    try:
        result = subprocess.run(cmd, env=_pg_env(parsed), capture_output=True, text=True, timeout=PG_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise BackupError(f"{what} did not finish in {PG_TIMEOUT_S // 3600} h") from exc
    if result.returncode != 0:
        raise BackupError(f"{what} failed ({result.returncode}): {result.stderr.strip()[-1500:]}")


def _revision(kind: str, dump: Path, url: str) -> str | None:
    engine = create_engine(f"sqlite:///{dump}" if kind == "sqlite" else url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None  # a database `matthan init` never ran on
    finally:
        engine.dispose()


def _read_manifest(source: Path) -> dict:
    path = source / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BackupError(f"no {MANIFEST} in {source}: not a matthan backup, or the backup did not finish") from exc
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read {path}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a {FORMAT} manifest")
    return manifest


@contextmanager
def _locked(dest: Path) -> Iterator[None]:
    with open(dest / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BackupError(f"another backup is writing to {dest}; wait for it to finish") from exc
        yield
