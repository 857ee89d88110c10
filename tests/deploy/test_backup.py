"""Backup and restore for real: a database with rows and a store with objects are backed up by the `matthan` command,
wiped, restored and compared (SQLite + local directory, S3 through the moto server, PostgreSQL in a throwaway
cluster)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from config import Settings
from storage.db import Database
from storage.models import Base, Camera, Event, Segment, Site
from storage.objectstore import ObjectStore, open_object_store
from tests.conftest import make_settings, settings_values

MATTHAN = Path(sys.executable).with_name("matthan")
T0 = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)


def matthan(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [str(MATTHAN), *args, *(["--config", str(config)] if config else [])]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def write_config(tmp: Path, values: dict[str, Any]) -> Path:
    path = tmp / "settings.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return path


def fill(db: Database, store: ObjectStore, cameras: int = 2, segments: int = 3) -> None:
    """A few rows of each kind that matters and the objects they name."""
    with db.session() as s:
        site = Site(code="xa-an-binh", name="Xã An Bình")
        s.add(site)
        s.flush()
        for c in range(cameras):
            cam = Camera(site_id=site.id, code=f"cam-{c + 1:02d}", name=f"Ngã ba {c + 1}", main_url="rtsp://x/main")
            s.add(cam)
            s.flush()
            for k in range(segments):
                start = T0 + dt.timedelta(minutes=k)
                data = f"segment {c}/{k} ".encode() * (500 + k)
                key = f"segments/{cam.code}/2026/11/30/01/{start:%Y%m%dT%H%M%SZ}.ts"
                stored = store.put_bytes(key, data)
                s.add(Segment(camera_id=cam.id, start_at=start, end_at=start + dt.timedelta(minutes=1), object_key=key,
                              bytes=stored.size, sha256=stored.sha256, legal_hold=(k == 0)))
            snapshot = f"snapshots/{cam.code}/1.jpg"
            store.put_bytes(snapshot, b"\xff\xd8 jpeg " + bytes([c]) * 100)
            s.add(Event(camera_id=cam.id, kind="motion", start_at=T0, end_at=T0 + dt.timedelta(seconds=20),
                        labels=["motorbike"], score=0.8, snapshot_key=snapshot, clip_status="ready"))


def rows(db: Database) -> dict[str, list[tuple]]:
    out = {}
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            out[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns))]
    return out


def objects(store: ObjectStore) -> dict[str, str]:
    return {info.key: store.sha256(info.key) for info in store.list()}


def round_trip(settings: Settings, config: Path, backup_dir: Path, wipe: Any) -> None:
    """Fill, back up with the CLI, wipe (db + store), restore with the CLI, compare."""
    db = Database(settings.database.url)
    db.prepare()
    store = open_object_store(settings.objectstore)
    fill(db, store)
    before_rows, before_objects = rows(db), objects(store)
    assert len(before_objects) == 8 and len(before_rows["segment"]) == 6

    done = matthan("backup", str(backup_dir), config=config)
    assert done.returncode == 0, done.stderr
    assert "8 objects (8 copied" in done.stdout
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert {k: v["sha256"] for k, v in manifest["objects"].items()} == before_objects
    assert manifest["database"]["alembic_revision"]

    db.dispose()
    wipe()
    assert list(store.list()) == []

    refused = matthan("restore", str(backup_dir), config=config)
    restored = refused if refused.returncode == 0 else matthan("restore", str(backup_dir), "--force", config=config)
    assert restored.returncode == 0, restored.stderr
    assert "8 objects (8 uploaded)" in restored.stdout
    again = Database(settings.database.url)
    again.prepare()  # what `matthan init` does after a restore: a no-op at the same revision
    assert rows(again) == before_rows
    assert objects(store) == before_objects
    again.dispose()


def test_sqlite_and_local_store_round_trip(tmp_path: Path) -> None:
    values = settings_values(tmp_path / "station")
    config = write_config(tmp_path, values)
    settings = make_settings(tmp_path / "station")
    db_file = Path(values["database"]["url"].split("///", 1)[1])

    def wipe() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)
        shutil.rmtree(values["objectstore"]["path"])

    round_trip(settings, config, tmp_path / "backup", wipe)
    # a restore never overwrites a database with data unless told to
    refused = matthan("restore", str(tmp_path / "backup"), config=config)
    assert refused.returncode == 1 and "--force" in refused.stderr


def test_sqlite_backup_includes_what_is_still_in_the_wal(tmp_path: Path) -> None:
    """A plain copy of a live WAL database misses committed rows not yet checkpointed; the backup API does not."""
    values = settings_values(tmp_path / "station")
    config = write_config(tmp_path, values)
    settings = make_settings(tmp_path / "station")
    db = Database(settings.database.url)
    db.prepare()
    db_file = Path(values["database"]["url"].split("///", 1)[1])
    reader = sqlite3.connect(db_file)  # a reader in a transaction: no checkpoint can move the WAL into the file
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM site").fetchall()
    with db.session() as s:
        s.add(Site(code="xa-moi", name="Xã Mới"))
    assert Path(f"{db_file}-wal").stat().st_size > 0
    plain = tmp_path / "plain-copy.db"
    shutil.copyfile(db_file, plain)
    done = matthan("backup", str(tmp_path / "backup"), config=config)
    assert done.returncode == 0, done.stderr
    reader.close()
    db.dispose()

    def names(path: Path) -> list[str]:
        with sqlite3.connect(path) as c:
            try:
                return [r[0] for r in c.execute("SELECT code FROM site")]
            except sqlite3.OperationalError:
                return []  # the plain copy may not even have the table yet

    assert names(tmp_path / "backup" / "database.sqlite3") == ["xa-moi"]
    assert names(plain) == []


def test_second_backup_copies_only_new_objects_and_drops_deleted_ones(tmp_path: Path) -> None:
    values = settings_values(tmp_path / "station")
    config = write_config(tmp_path, values)
    settings = make_settings(tmp_path / "station")
    db = Database(settings.database.url)
    db.prepare()
    store = open_object_store(settings.objectstore)
    fill(db, store, cameras=1, segments=2)
    db.dispose()
    assert matthan("backup", str(tmp_path / "backup"), config=config).returncode == 0
    store.put_bytes("segments/cam-01/new.ts", b"new footage")
    store.delete("snapshots/cam-01/1.jpg")
    second = matthan("backup", str(tmp_path / "backup"), config=config)
    assert second.returncode == 0, second.stderr
    assert "3 objects (1 copied, 1 removed" in second.stdout
    assert not (tmp_path / "backup" / "objects" / "snapshots").exists()
    assert matthan("restore", str(tmp_path / "backup"), "--check-only").returncode == 0


def test_altered_backup_is_refused_before_anything_is_restored(tmp_path: Path) -> None:
    values = settings_values(tmp_path / "station")
    config = write_config(tmp_path, values)
    settings = make_settings(tmp_path / "station")
    db = Database(settings.database.url)
    db.prepare()
    store = open_object_store(settings.objectstore)
    fill(db, store, cameras=1, segments=2)
    db.dispose()
    backup = tmp_path / "backup"
    assert matthan("backup", str(backup), config=config).returncode == 0
    segment = sorted((backup / "objects" / "segments").rglob("*.ts"))[0]
    segment.write_bytes(segment.read_bytes().replace(b"segment", b"SEGMENT", 1))
    (backup / "objects" / "extra.ts").write_bytes(b"planted")
    (backup / "database.sqlite3").unlink()

    checked = matthan("restore", str(backup), "--check-only")
    assert checked.returncode == 1
    rel = segment.relative_to(backup).as_posix()
    assert f"altered: {rel}" in checked.stderr
    assert "not in the manifest: objects/extra.ts" in checked.stderr
    assert "missing: database.sqlite3" in checked.stderr

    Path(values["objectstore"]["path"]).joinpath(segment.relative_to(backup / "objects")).unlink()
    refused = matthan("restore", str(backup), "--force", config=config)
    assert refused.returncode == 1 and "nothing was restored" in refused.stderr
    assert not store.exists(segment.relative_to(backup / "objects").as_posix())


def test_s3_bucket_round_trip(tmp_path: Path, s3_server: str) -> None:
    bucket = f"b-{tmp_path.name[-20:].lower().replace('_', '-')}".strip("-")[:40]
    s3 = {"backend": "s3", "endpoint": s3_server, "bucket": bucket, "access_key": "test",
          "secret_key": "test-secret", "secure": False, "region": "us-east-1"}
    values = settings_values(tmp_path / "station", objectstore=s3)
    config = write_config(tmp_path, values)
    settings = make_settings(tmp_path / "station", objectstore=s3)
    db_file = Path(values["database"]["url"].split("///", 1)[1])
    store = open_object_store(settings.objectstore)

    def wipe() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)
        for info in list(store.list()):
            store.delete(info.key)

    round_trip(settings, config, tmp_path / "backup", wipe)


def test_postgres_round_trip(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore are not installed: apt-get install postgresql-client")
    try:
        cluster = request.getfixturevalue("postgres_cluster")
    except pytest.FixtureLookupError:
        pytest.skip("no postgres_cluster fixture in tests/conftest.py in this checkout")
    url = cluster.create_database("backup")
    values = settings_values(tmp_path / "station", database={"url": url})
    config = write_config(tmp_path, values)
    settings = make_settings(tmp_path / "station", database={"url": url})

    def wipe() -> None:
        shutil.rmtree(values["objectstore"]["path"])
        db = Database(url)
        Base.metadata.drop_all(db.engine)
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE alembic_version")
        db.dispose()

    round_trip(settings, config, tmp_path / "backup", wipe)
    assert (tmp_path / "backup" / "database.pgdump").read_bytes()[:5] == b"PGDMP"
    # restoring into a database with data needs --force, and --force replaces it
    refused = matthan("restore", str(tmp_path / "backup"), config=config)
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert matthan("restore", str(tmp_path / "backup"), "--force", config=config).returncode == 0
