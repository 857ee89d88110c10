"""Benchmark: investigator queries on a big station — camera + time-range queries and the event list page, p95.

1 M events and 2 M segments over 54 cameras and a year, in SQLite (and PostgreSQL with --postgres, in a cluster this
script starts with initdb on 127.0.0.1 and removes afterwards). Each figure is printed beside its target.

Run: .venv/bin/python tests/bench/bench_queries.py [--events 1000000] [--segments 2000000] [--postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(1, str(REPO))

import httpx  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from config import load_settings  # noqa: E402
from storage.credentials import generate_key  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Camera, Event, Segment, Site  # noqa: E402
from storage.repo.events import list_events  # noqa: E402
from storage.repo.segments import segments_between  # noqa: E402
from storage.repo.users import create_user  # noqa: E402
from tests.postgres import PostgresCluster  # noqa: E402
from tests.review_ui_server import serve  # noqa: E402

CAMERAS = 54  # a city ward's count
YEAR_START = dt.datetime(2025, 11, 1, tzinfo=dt.UTC)
SPAN = dt.timedelta(days=365)
QUERY_TARGET_MS = 20.0
PAGE_TARGET_MS = 150.0
QUERIES = 300
PAGES = 150
CHUNK = 50_000
PASSWORD = "bench-mat-khau-dai"
# what a year of a ward looks like: mostly motion and vehicles; offline and tamper periods are rare (a few per camera
# a week), and long, which is why they are looked up separately (storage.repo.events.UNBOUNDED_KINDS)
KINDS = {"motion": 0.50, "vehicle": 0.30, "person": 0.19, "offline": 0.006, "tamper": 0.004}


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def fill(db: Database, events: int, segments: int, seed: int = 7) -> float:
    """Bulk rows: segments back to back per camera (so 2 M over 54 cameras and a year are ~4 min each), events at
    random times. Returns the seconds it took."""
    rng = random.Random(seed)
    started = time.monotonic()
    with db.session() as s:
        site = Site(code="phuong", name="Phường")
        s.add(site)
        s.flush()
        for i in range(CAMERAS):
            s.add(Camera(site_id=site.id, code=f"cam-{i + 1:02d}", name=f"Camera {i + 1}", main_url="rtsp://x/main"))
        s.flush()
        create_user(session=s, username="bench", password=PASSWORD, role="investigator")
    per_camera = segments // CAMERAS
    length = SPAN / per_camera
    with db.engine.begin() as conn:
        rows = []
        for cam in range(1, CAMERAS + 1):
            for k in range(per_camera):
                start = YEAR_START + k * length
                rows.append({"camera_id": cam, "start_at": start, "end_at": start + length, "bytes": 1_000_000,
                             "object_key": f"segments/cam-{cam:02d}/{k}.ts", "sha256": "0" * 64, "legal_hold": False,
                             "uploaded_at": start})  # fmt: skip
                if len(rows) >= CHUNK:
                    conn.execute(insert(Segment), rows)
                    rows = []
        if rows:
            conn.execute(insert(Segment), rows)
        rows = []
        for _ in range(events):
            start = YEAR_START + dt.timedelta(seconds=rng.uniform(0, SPAN.total_seconds()))
            kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
            rows.append({"camera_id": rng.randint(1, CAMERAS), "kind": kind, "start_at": start,
                         "end_at": start + dt.timedelta(seconds=rng.uniform(4, 60) if kind not in ("offline", "tamper")
                                                        else rng.uniform(60, 6 * 3600)), "score": 0.8,
                         "labels": ["motorbike"] if kind == "vehicle" else [], "label_scores": {}, "zones": [],
                         "detail": "", "clip_status": "ready", "boxes": []})  # fmt: skip
            if len(rows) >= CHUNK:
                conn.execute(insert(Event), rows)
                rows = []
        if rows:
            conn.execute(insert(Event), rows)
    return time.monotonic() - started


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def measure(db: Database, url: str, rng: random.Random) -> dict[str, list[float]]:
    def window(hours: float) -> tuple[str, dt.datetime, dt.datetime]:
        start = YEAR_START + dt.timedelta(seconds=rng.uniform(0, SPAN.total_seconds() - hours * 3600))
        return f"cam-{rng.randint(1, CAMERAS):02d}", start, start + dt.timedelta(hours=hours)

    def events_query() -> None:
        code, start, end = window(2)
        with db.session() as s:
            list_events(session=s, camera_codes=[code], start=start, end=end, limit=50)

    def segments_query() -> None:
        code, start, end = window(2)
        with db.session() as s:
            segments_between(session=s, camera_id=int(code[4:]), start=start, end=end)

    results = {"events: camera + 2 h (list_events, with count)": timed(events_query, QUERIES),
               "segments: camera + 2 h (segments_between)": timed(segments_query, QUERIES)}
    with httpx.Client(base_url=url, timeout=60) as client:
        token = client.get("/login").text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        client.post("/login", data={"csrf_token": token, "username": "bench", "password": PASSWORD})

        def page_filtered() -> None:
            code, start, end = window(24)
            local = dt.timezone(dt.timedelta(hours=7))
            answer = client.get("/events", params={"camera": code, "start": start.astimezone(local).strftime("%Y-%m-%dT%H:%M"),
                                                   "end": end.astimezone(local).strftime("%Y-%m-%dT%H:%M")})  # fmt: skip
            assert answer.status_code == 200, answer.status_code

        def page_newest() -> None:
            assert client.get("/events").status_code == 200

        results["event list page: camera + day (HTTP)"] = timed(page_filtered, PAGES)
        results["event list page: newest, no filter (HTTP)"] = timed(page_newest, PAGES)
    return results


@contextmanager
def postgres() -> Iterator[str]:
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster.create_database("bench")
    finally:
        cluster.stop()


def run(label: str, url: str, root: Path, args: argparse.Namespace) -> list[tuple[str, float, float]]:
    values = {"data_dir": str(root), "database": {"url": url},
              "objectstore": {"backend": "local", "path": str(root / "objects")},
              "web": {"secret_key": "b" * 40, "port": 0}, "security": {"credentials_key": generate_key()}}  # fmt: skip
    settings = load_settings(None, **values)
    db = Database(url)
    db.prepare()
    print(f"{label}: filling {args.events:,} events and {args.segments:,} segments ...", end="", flush=True)
    seconds = fill(db, args.events, args.segments)
    if url.startswith("postgresql"):
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    print(f" {seconds:.0f} s", flush=True)
    rng = random.Random(11)
    with serve(settings) as web:
        results = measure(db, web, rng)
    db.dispose()
    rows = []
    for name, values_ms in results.items():
        target = PAGE_TARGET_MS if "page" in name else QUERY_TARGET_MS
        rows.append((f"{label}: {name}", p95(values_ms), target))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--segments", type=int, default=2_000_000)
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL (started here)")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="matthan-bench-queries-"))
    rows: list[tuple[str, float, float]] = []
    try:
        rows += run("SQLite", f"sqlite:///{root / 'sqlite' / 'matthan.db'}", _mk(root / "sqlite"), args)
        if args.postgres:
            with postgres() as url:
                rows += run("PostgreSQL", url, root / "postgres", args)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{'p95 over ' + str(QUERIES) + ' queries / ' + str(PAGES) + ' pages':70}{'ms':>9}   target")
    failed = 0
    for name, value, target in rows:
        ok = value <= target
        failed += not ok
        print(f"{name:70}{value:9.1f}   ≤ {target:g} ms  {'PASS' if ok else 'FAIL'}")
    return 1 if failed else 0


def _mk(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


if __name__ == "__main__":
    raise SystemExit(main())
