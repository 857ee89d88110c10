"""The demo: the embedded default (SQLite + local object store) recording simulated cameras."""

from __future__ import annotations

import logging
import os
import secrets
import sys
from pathlib import Path

import yaml

from config.settings import load_settings
from matthan.processes import run_together
from matthan.runtime import import_inventory_file, open_storage
from matthan.simulator.runner import SimulatedCameras
from storage.credentials import generate_key
from storage.errors import Conflict
from storage.repo.users import create_user

logger = logging.getLogger(__name__)

DEMO_USERS = (("admin", "admin", "Quản trị viên"), ("dieutra", "investigator", "Điều tra viên"),
              ("trucban", "duty", "Cán bộ trực ban"))


def _settings_file(data: Path, port: int) -> Path:
    path = data / "settings.yaml"
    if path.exists():
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    else:
        values = {
            "data_dir": str(data),
            "database": {"url": f"sqlite:///{data / 'matthan.db'}"},
            "objectstore": {"backend": "local", "path": str(data / "objects")},
            "ingest": {"spool_dir": str(data / "spool"), "segment_seconds": 10},
            "detect": {"pre_roll_s": 3.0, "post_roll_s": 3.0},
            "web": {"secret_key": secrets.token_urlsafe(48)},
            "security": {"credentials_key": generate_key()},
        }
    values["web"]["port"] = port
    values["inventory"] = str(data / "inventory.yaml")
    path.write_text(yaml.safe_dump(values, allow_unicode=True, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


def _inventory_file(data: Path, sim: SimulatedCameras, count: int) -> Path:
    names = ["Cổng trường tiểu học", "Ngã ba chợ", "Trụ sở UBND xã", "Cầu thôn Đông", "Bến xe", "Trạm y tế"]
    cameras = [
        {
            "code": f"cam-{i:02d}",
            "name": names[(i - 1) % len(names)] + ("" if i <= len(names) else f" {i}"),
            "village": f"Thôn {1 + (i - 1) % 4}",
            "main_url": sim.main_url(i),
            "sub_url": sim.sub_url(i),
            "funding": {"source": "community", "amount_vnd": 57_000_000 // 13},
        }
        for i in range(1, count + 1)
    ]
    inventory = {"site": {"code": "thuan-quy", "name": "Xã Thuận Quý", "province": "Lâm Đồng"}, "cameras": cameras}
    path = data / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _users(settings_path: Path, data: Path) -> list[tuple[str, str]]:
    """Create the demo accounts once; their passwords are kept in a file only the owner can read."""
    secrets_file = data / "demo-passwords.txt"
    if secrets_file.exists():
        return [tuple(line.split(" ", 1)) for line in secrets_file.read_text().splitlines() if line]  # type: ignore[misc]
    settings = load_settings(settings_path)
    db, _ = open_storage(settings)
    accounts = []
    with db.session() as session:
        for username, role, full_name in DEMO_USERS:
            password = secrets.token_urlsafe(9)
            try:
                create_user(session=session, username=username, password=password, role=role, full_name=full_name,
                            actor="demo")
                accounts.append((username, password))
            except Conflict:
                pass
    db.dispose()
    secrets_file.write_text("".join(f"{u} {p}\n" for u, p in accounts))
    secrets_file.chmod(0o600)
    return accounts


def run_demo(data: Path, *, cameras: int, port: int) -> int:
    data.mkdir(parents=True, exist_ok=True)
    settings_path = _settings_file(data, port)
    # 960x540 main streams: generated once in ~15 s on two cores (720p takes three times as long), so the
    # first demo lists events within a minute of starting
    with SimulatedCameras(cache_dir=data / "footage", count=cameras, main_size=(960, 540), sub_size=(640, 360)) as sim:
        inventory = _inventory_file(data, sim, cameras)
        settings = load_settings(settings_path)
        db, _ = open_storage(settings)
        import_inventory_file(settings, db, inventory)
        db.dispose()
        accounts = _users(settings_path, data)
        print(f"\nMắt Thần demo: http://127.0.0.1:{port}  ({cameras} simulated cameras, data in {data})", flush=True)
        for username, password in accounts:
            print(f"  log in / đăng nhập: {username} / {password}", flush=True)
        print("  Ctrl-C stops the demo.\n", flush=True)
        env = dict(os.environ, MATTHAN_CONFIG=str(settings_path))
        return run_together([[sys.executable, "-m", "matthan", "worker"], [sys.executable, "-m", "matthan", "web"]],
                            env=env)
