"""Evidence lives on the originals: tagging through the API puts an object-store legal hold on the segments behind the
clip and on the clip (a real S3-protocol server, moto, read back through the S3 API); removing evidence lifts it only
where no other evidence covers the object; a store outage never loses a tag (the hold follows when the store is
back); a bucket without object lock keeps holds in the database and says so."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from minio import Minio
from minio.error import S3Error
from sqlalchemy import select

from config.inventory import Inventory
from config.settings import IngestConfig, Settings
from ingest.retention import RetentionWorker
from review_ui.app import create_app
from review_ui.evidence import apply_holds_now
from storage.credentials import CredentialCipher
from storage.db import Database
from storage.errors import ObjectHeld
from storage.models import Evidence, HoldSync, Segment, User
from storage.objectstore import S3ObjectStore
from storage.repo.cameras import get_camera, import_inventory
from storage.repo.cases import create_case, tag_evidence
from storage.repo.events import create_event, finish_event, set_event_clip
from storage.repo.segments import add_segment
from storage.repo.users import create_user
from tests.conftest import make_settings
from ui_server import free_port, serve

BASE = dt.datetime(2024, 6, 1, 2, 0, 0, tzinfo=dt.UTC)  # long past: retention (1 day) may take every unheld segment
PASSWORD = "investigator-pass-123"
# three one-minute segments; clip "a" covers s1 and s2, clip "b" covers s2 and s3
SEGMENTS = {"s1": 0, "s2": 60, "s3": 120}
CLIPS = {"a": (50, 70), "b": (100, 130)}


@dataclass
class Station:
    url: str
    db: Database
    store: S3ObjectStore
    s3: Minio  # a plain S3 client: what the server itself says about the objects
    segments: dict[str, str]  # name → object key
    events: dict[str, int]  # clip name → event id
    clips: dict[str, str]  # clip name → object key

    def held(self) -> dict[str, bool | None]:
        """Every object's legal hold as the S3 server reports it (None: the object was deleted)."""
        keys = {**self.segments, **{f"clip-{n}": k for n, k in self.clips.items()}}
        return {name: self._hold(key) for name, key in keys.items()}

    def _hold(self, key: str) -> bool | None:
        try:
            return self.s3.is_object_legal_hold_enabled(self.store.bucket, key)
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                return None
            raise

    def queued(self) -> list[HoldSync]:
        with self.db.session() as session:
            return list(session.scalars(select(HoldSync).order_by(HoldSync.object_key)))

    def retention(self, tmp_path: Path) -> RetentionWorker:
        return RetentionWorker(db=self.db, store=self.store, config=IngestConfig(spool_dir=tmp_path / "spool"))


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return make_settings(tmp_path)
    return make_settings(tmp_path, database={"url": request.getfixturevalue("postgres_cluster").create_database("holds")})


def s3_client(endpoint: str) -> Minio:
    return Minio(endpoint, access_key="test", secret_key="test-secret", secure=False, region="us-east-1")


@contextmanager
def station(settings: Settings, endpoint: str, bucket: str) -> Iterator[Station]:
    """One camera with three recorded segments and two event clips in the bucket, the web app served by uvicorn."""
    db = Database(settings.database.url, connect_timeout_s=5)
    db.prepare()
    store = S3ObjectStore(endpoint=endpoint, bucket=bucket, access_key="test", secret_key="test-secret",
                          secure=False, region="us-east-1")
    cipher = CredentialCipher(settings.security.credentials_key.get_secret_value())
    inventory = Inventory.model_validate({"site": {"code": "xa-an-binh", "name": "Xã An Bình"}, "cameras": [
        {"code": "cho", "name": "Chợ", "main_url": "rtsp://10.0.0.9:554/s1", "retention_days": 1}]})
    segments, events, clips = {}, {}, {}
    with db.session() as session:
        import_inventory(session=session, inventory=inventory, cipher=cipher)
        create_user(session=session, username="dtv", password=PASSWORD, role="investigator")
        camera_id = get_camera(session=session, code="cho").id
        for name, offset in SEGMENTS.items():
            start = BASE + dt.timedelta(seconds=offset)
            key = f"segments/cho/{start:%Y/%m/%d/%H/%Y%m%dT%H%M%SZ}.ts"
            stored = store.put_bytes(key, f"footage {name}".encode())
            add_segment(session=session, camera_id=camera_id, start_at=start, end_at=start + dt.timedelta(seconds=60),
                        object_key=key, size=stored.size, sha256=stored.sha256)
            segments[name] = key
        for name, (begin, end) in CLIPS.items():
            start, stop = BASE + dt.timedelta(seconds=begin), BASE + dt.timedelta(seconds=end)
            event = create_event(session=session, camera_id=camera_id, kind="motion", start_at=start)
            finish_event(session=session, event_id=event.id, end_at=stop)
            key = f"clips/cho/{start:%Y/%m/%d/%H}/{event.id}.mp4"
            stored = store.put_bytes(key, f"clip {name}".encode(), content_type="video/mp4")
            set_event_clip(session=session, event_id=event.id, status="ready", clip_key=key, sha256=stored.sha256,
                           clip_start_at=start, clip_end_at=stop)
            events[name], clips[name] = event.id, key
    try:
        with serve(create_app(settings, db=db, store=store)) as url:
            yield Station(url=url, db=db, store=store, s3=s3_client(endpoint), segments=segments, events=events,
                          clips=clips)
    finally:
        db.dispose()


@contextmanager
def investigator(site: Station) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, timeout=30) as client:
        assert client.post("/api/auth/login", json={"username": "dtv", "password": PASSWORD}).status_code == 200
        yield client


def open_case(client: httpx.Client, title: str) -> int:
    answer = client.post("/api/cases", json={"title": title})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def tag(client: httpx.Client, site: Station, clip: str, case_id: int) -> int:
    answer = client.post(f"/api/events/{site.events[clip]}/evidence", json={"case_id": case_id, "note": "xe máy"})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def remove(client: httpx.Client, case_id: int, evidence_id: int) -> None:
    answer = client.request("DELETE", f"/api/cases/{case_id}/evidence/{evidence_id}", json={"reason": "gắn nhầm"})
    assert answer.status_code == 204, answer.text


def test_tagging_holds_the_originals_in_the_store_and_removing_lifts_only_what_no_evidence_covers(
        settings: Settings, s3_server: str, tmp_path: Path) -> None:
    # the bucket does not exist: the store sets it up as `matthan setup-bucket` does (object lock, versioning)
    with station(settings, s3_server, f"ev-{uuid.uuid4().hex[:12]}") as site, investigator(site) as client:
        nothing = {"s1": False, "s2": False, "s3": False, "clip-a": False, "clip-b": False}
        assert site.held() == nothing
        theft, fight = open_case(client, "Trộm xe máy ở chợ"), open_case(client, "Đánh nhau ở chợ")

        a_in_theft = tag(client, site, "a", theft)
        assert site.held() == {**nothing, "s1": True, "s2": True, "clip-a": True}
        assert site.queued() == []
        # the server itself refuses to delete the held version, and our store refuses even the delete marker
        [version] = [o.version_id for o in site.s3.list_objects(site.store.bucket, prefix=site.segments["s1"],
                                                                 include_version=True)]
        with pytest.raises(S3Error) as refused:
            site.s3.remove_object(site.store.bucket, site.segments["s1"], version_id=version)
        assert refused.value.code == "AccessDenied"
        with pytest.raises(ObjectHeld):
            site.store.delete(site.segments["s1"])
        assert site.store.get_bytes(site.segments["s1"]) == b"footage s1"

        tag(client, site, "b", theft)
        a_in_fight = tag(client, site, "a", fight)
        everything = {name: True for name in nothing}
        assert site.held() == everything

        remove(client, fight, a_in_fight)  # clip a is still evidence in the theft case: nothing is lifted
        assert site.held() == everything
        remove(client, theft, a_in_theft)  # s2 stays: clip b covers it
        assert site.held() == {**everything, "s1": False, "clip-a": False}
        assert site.queued() == []

        report = site.retention(tmp_path).run_once()
        assert (report.deleted_segments, report.kept_on_hold, report.failed_objects) == (1, 2, 0)
        assert not site.store.exists(site.segments["s1"])
        assert site.store.exists(site.segments["s2"]) and site.store.exists(site.segments["s3"])

        # Holds lost in the store (restored from a backup, moved to a new bucket) come back when a worker starts.
        site.s3.disable_object_legal_hold(site.store.bucket, site.segments["s2"])
        site.s3.disable_object_legal_hold(site.store.bucket, site.clips["b"])
        worker = site.retention(tmp_path)
        worker.start()
        try:
            deadline = time.monotonic() + 15
            while site.held() != {"s1": None, "s2": True, "s3": True, "clip-a": False, "clip-b": True}:
                assert time.monotonic() < deadline, site.held()
                time.sleep(0.1)
        finally:
            worker.stop()


def test_the_page_forms_hold_and_lift_too(settings: Settings, s3_server: str) -> None:
    with station(settings, s3_server, f"ev-{uuid.uuid4().hex[:12]}") as site, investigator(site) as client:
        page = client.get(f"/events/{site.events['b']}")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        tagged = client.post(f"/events/{site.events['b']}/evidence",
                             data={"csrf_token": token, "new_case_title": "Qua trang", "note": "ô tô"})
        assert tagged.status_code == 303, tagged.text
        case_id, evidence_id = re.fullmatch(r"/cases/(\d+)#evidence-(\d+)", tagged.headers["location"]).groups()
        assert site.held() == {"s1": False, "s2": True, "s3": True, "clip-a": False, "clip-b": True}
        removed = client.post(f"/cases/{case_id}/evidence/{evidence_id}/remove",
                              data={"csrf_token": token, "reason": "gắn nhầm"})
        assert removed.status_code == 303, removed.text
        assert set(site.held().values()) == {False}
        assert site.queued() == []


def test_a_store_outage_while_tagging_keeps_the_tag_and_the_hold_follows_when_the_store_is_back(
        settings: Settings, tmp_path: Path) -> None:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with station(settings, f"127.0.0.1:{port}", f"ev-{uuid.uuid4().hex[:12]}") as site:
        # The clip was read and hashed, then the store went away before its holds were set: the web's own sequence.
        with site.db.session() as session:
            user = session.scalars(select(User).where(User.username == "dtv")).one()
            case = create_case(session=session, title="Mất trộm", user=user)
            tag_evidence(session=session, store=site.store, case_id=case.id, event_id=site.events["a"], note="x",
                         user=user)
            server.stop()
            apply_holds_now(session=session, store=site.store)
            case_id = case.id

        with site.db.session() as session:
            [evidence] = session.scalars(select(Evidence).where(Evidence.case_id == case_id)).all()
            held = {key: on for key, on in session.execute(select(Segment.object_key, Segment.legal_hold))}
            evidence_id = evidence.id
        assert held == {site.segments["s1"]: True, site.segments["s2"]: True, site.segments["s3"]: False}
        queued = site.queued()  # the first try found the store down and left every key for later
        assert [(q.object_key, q.attempts) for q in queued] == [
            (site.clips["a"], 1), (site.segments["s1"], 0), (site.segments["s2"], 0)]
        assert "unreachable" in queued[0].last_error

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        # the worker's retention pass sets the holds first, then deletes only what is not held
        report = site.retention(tmp_path).run_once()
        assert site.queued() == []
        assert site.held() == {"s1": True, "s2": True, "s3": None, "clip-a": True, "clip-b": False}
        assert (report.deleted_segments, report.kept_on_hold) == (1, 2)

        # Removing the evidence while the store is down: the removal stands, the lift waits for the store.
        server.stop()
        with investigator(site) as client:
            remove(client, case_id, evidence_id)
        assert {q.object_key for q in site.queued()} == {site.clips["a"], site.segments["s1"], site.segments["s2"]}
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        report = site.retention(tmp_path).run_once()
        assert site.queued() == []
        assert (report.deleted_segments, report.kept_on_hold, report.failed_objects) == (2, 0, 0)
        assert not site.store.exists(site.segments["s1"]) and not site.store.exists(site.segments["s2"])
    server.stop()


def test_a_bucket_without_object_lock_still_tags_and_says_holds_are_database_only(
        settings: Settings, s3_server: str, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    bucket = f"ev-{uuid.uuid4().hex[:12]}"
    s3_client(s3_server).make_bucket(bucket)  # made by hand, or by an older matthan, without object lock
    with caplog.at_level(logging.WARNING, logger="storage.objectstore.s3"), \
            station(settings, s3_server, bucket) as site, investigator(site) as client:
        tag(client, site, "a", open_case(client, "Không có khoá đối tượng"))
        assert site.queued() == []  # nothing waits: this store keeps no holds
        with site.db.session() as session:
            held = session.scalars(select(Segment.object_key).where(Segment.legal_hold.is_(True))
                                   .order_by(Segment.object_key)).all()
        assert held == [site.segments["s1"], site.segments["s2"]]
        report = site.retention(tmp_path).run_once()
        assert (report.deleted_segments, report.kept_on_hold) == (1, 2)  # the database hold alone keeps them
    warnings = [r.getMessage() for r in caplog.records if r.name == "storage.objectstore.s3"]
    assert len(warnings) == 1 and "evidence holds are kept in the database only" in warnings[0], warnings
