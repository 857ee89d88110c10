"""The `matthan` command line."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from config.inventory import mask_url
from config.settings import ConfigError, Settings, load_settings

app = typer.Typer(help="Mắt Thần — camera an ninh cho công an xã / community CCTV for commune police",
                  no_args_is_help=True, pretty_exceptions_enable=False)
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", envvar="MATTHAN_CONFIG",
                                                   help="settings YAML (MATTHAN_* variables override it)")]


class _MaskingFilter(logging.Filter):
    """Last line of defence: no camera password reaches a log, whatever a library prints."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_url(record.getMessage())
        record.args = None
        return True


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_MaskingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def settings_from(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def genkey() -> None:
    """Print a new key for security.credentials_key (encrypts camera passwords)."""
    from storage.credentials import generate_key

    typer.echo(generate_key())


@app.command()
def init(config: ConfigOpt = None, inventory: Annotated[Optional[Path], typer.Option(help="inventory YAML")] = None) -> None:
    """Create or upgrade the database and import the camera inventory."""
    from matthan.runtime import import_inventory_file, open_storage

    setup_logging()
    settings = settings_from(config)
    db, _ = open_storage(settings)
    path = inventory or settings.inventory
    if path:
        codes = import_inventory_file(settings, db, path)
        typer.echo(f"imported {len(codes)} cameras: {', '.join(codes)}")
    db.dispose()


@app.command("create-user")
def create_user_cmd(
    username: str,
    role: Annotated[str, typer.Option(help="admin | duty | investigator")],
    config: ConfigOpt = None,
    full_name: str = "",
    password: Annotated[Optional[str], typer.Option(envvar="MATTHAN_NEW_PASSWORD", help="asked for when absent")] = None,
) -> None:
    """Create a user account."""
    from matthan.runtime import open_storage
    from storage.repo.users import create_user

    settings = settings_from(config)
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    db, _ = open_storage(settings)
    try:
        with db.session() as session:
            create_user(session=session, username=username, password=password, role=role, full_name=full_name,
                        actor="cli")
    except (ValueError, Exception) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"user {username} ({role}) created")


@app.command()
def worker(config: ConfigOpt = None) -> None:
    """Record, upload and detect for every enabled camera (runs until SIGTERM)."""
    from ingest.spool_lock import SpoolInUse
    from matthan.runtime import run_worker

    setup_logging()
    try:
        run_worker(settings_from(config))
    except SpoolInUse as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def web(config: ConfigOpt = None) -> None:
    """Serve the review UI."""
    from matthan.runtime import run_web

    setup_logging()
    run_web(settings_from(config))


@app.command()
def run(config: ConfigOpt = None) -> None:
    """Run the worker and the review UI together (each in its own process)."""
    from matthan.processes import run_together

    setup_logging()
    settings_from(config)  # fail early, before starting anything, when the configuration is wrong
    raise typer.Exit(run_together([[sys.executable, "-m", "matthan", "worker"], [sys.executable, "-m", "matthan", "web"]],
                                  env=dict(os.environ, **({"MATTHAN_CONFIG": str(config)} if config else {}))))


@app.command()
def demo(
    data: Annotated[Path, typer.Option(help="where the demo keeps its files")] = Path("data/demo"),
    cameras: Annotated[int, typer.Option(min=1, max=32)] = 3,
    port: int = 8000,
) -> None:
    """The embedded default with simulated cameras: SQLite, a local object store, an RTSP simulator."""
    from matthan.demo import run_demo

    setup_logging()
    raise typer.Exit(run_demo(data.resolve(), cameras=cameras, port=port))


@app.command("verify")
def verify(bundle: Annotated[Path, typer.Argument(help="The case bundle (.zip) exported from the review UI")]) -> None:
    """Check an exported case bundle offline: every file against the manifest's SHA-256, the audit entries' hashes,
    and that each clip has its tagging entry. Exit 1 and name each altered, missing or added file."""
    from storage.bundle import verify_bundle

    result = verify_bundle(str(bundle)) if bundle.is_file() else None
    if result is None:
        typer.echo(f"no file {bundle}: give the path of the exported .zip", err=True)
        raise typer.Exit(2)
    for name in result.checked:
        typer.echo(f"OK       {name}")
    for problem in result.problems:
        typer.echo(f"PROBLEM  {problem}", err=True)
    if result.manifest_sha256:
        typer.echo(f"manifest.json SHA-256 {result.manifest_sha256}: compare with the case's \"case.export\" record "
                   "in the station's audit log")  # fmt: skip
    if not result.ok:
        typer.echo(f"bundle {bundle.name} FAILED verification ({len(result.problems)} problem(s))", err=True)
        raise typer.Exit(1)
    typer.echo(f"bundle {bundle.name} verified: case {result.case_number}, {len(result.checked)} files intact")


@app.command("check-audit")
def check_audit(config: ConfigOpt = None) -> None:
    """Check the audit log's hash chain; report the first broken link."""
    from matthan.runtime import open_storage
    from storage.audit import check_audit_chain

    db, _ = open_storage(settings_from(config))
    with db.session() as session:
        broken = check_audit_chain(session=session)
    if broken:
        typer.echo(f"audit chain BROKEN at entry {broken.entry_id}: {broken.reason}", err=True)
        raise typer.Exit(1)
    typer.echo("audit chain intact")


@app.command("setup-bucket")
def setup_bucket_cmd(
    config: ConfigOpt = None,
    object_lock: Annotated[bool, typer.Option(help="create the bucket with object lock (evidence cannot be deleted "
                                                   "while held)")] = True,
    noncurrent_days: Annotated[int, typer.Option(min=0, max=3650, help="free deleted objects' old versions after "
                                                                      "this many days (0: keep them forever)")] = 7,
) -> None:
    """Create the S3/MinIO bucket with object lock, enable versioning and expire old versions. Safe to run again."""
    from storage.buckets import setup_bucket
    from storage.errors import ObjectStoreError

    setup_logging("WARNING")
    settings = settings_from(config)
    try:
        done = setup_bucket(settings.objectstore, object_lock=object_lock, noncurrent_days=noncurrent_days or None)
    except ObjectStoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"bucket {done.bucket}: {'created' if done.created else 'exists'}, versioning "
               f"{'on' if done.versioning else 'OFF'}, object lock {'on' if done.object_lock else 'OFF'}, old versions "
               f"{f'expire after {done.noncurrent_days} days' if done.noncurrent_days else 'kept'}")
    for note in done.notes:
        typer.echo(f"note: {note}", err=True)


@app.command()
def backup(
    dest: Annotated[Path, typer.Argument(help="backup directory (run again into it: only new objects are copied)")],
    config: ConfigOpt = None,
) -> None:
    """Back up the database (SQLite backup API or pg_dump) and the object store, with a SHA-256 manifest."""
    from storage.backup import backup as run_backup
    from storage.errors import StorageError
    from storage.objectstore import open_object_store

    setup_logging("WARNING")
    settings = settings_from(config)
    try:
        done = run_backup(db_url=settings.database.url, store=open_object_store(settings.objectstore), dest=dest)
    except StorageError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"backup in {done.path}: {done.database_kind} database, {done.objects} objects ({done.copied} copied, "
               f"{done.removed} removed, {done.bytes / 1e9:.2f} GB in all)")


@app.command()
def restore(
    source: Annotated[Path, typer.Argument(help="a directory written by `matthan backup`")],
    config: ConfigOpt = None,
    force: Annotated[bool, typer.Option(help="replace a database that already holds data")] = False,
    check_only: Annotated[bool, typer.Option("--check-only", help="only check the backup against its manifest")] = False,
) -> None:
    """Check a backup against its manifest, then restore the database and the objects. Stop matthan first; run
    `matthan init` afterwards."""
    from storage.backup import check_backup
    from storage.backup import restore as run_restore
    from storage.errors import StorageError
    from storage.objectstore import open_object_store

    setup_logging("WARNING")
    try:
        if check_only:
            checked = check_backup(source)
            for problem in checked.problems:
                typer.echo(f"PROBLEM  {problem}", err=True)
            if not checked.ok:
                raise typer.Exit(1)
            typer.echo(f"backup {source}: {checked.files} files match the manifest")
            return
        settings = settings_from(config)
        done = run_restore(source=source, db_url=settings.database.url,
                           store=open_object_store(settings.objectstore), force=force)
    except StorageError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"restored the {done.database_kind} database and {done.objects} objects ({done.uploaded} uploaded); "
               "now run `matthan init`")
