"""Legal holds in the object store, on the local directory and on a real S3-protocol server (moto): a held object is
not deleted, the S3 server itself refuses to delete its version, and buckets are never made without object lock."""

from __future__ import annotations

import logging
import uuid

import pytest
from minio import Minio
from minio.error import S3Error

from config.settings import ObjectStoreConfig
from storage.buckets import BucketAdmin
from storage.errors import NotFound, ObjectHeld
from storage.objectstore import LocalObjectStore, ObjectStore, S3ObjectStore

KEY = "segments/cam-01/2026/11/22/01/20261122T010000Z.ts"


def raw_client(endpoint: str) -> Minio:
    return Minio(endpoint, access_key="test", secret_key="test-secret", secure=False, region="us-east-1")


def s3_at(endpoint: str, bucket: str) -> S3ObjectStore:
    return S3ObjectStore(endpoint=endpoint, bucket=bucket, access_key="test", secret_key="test-secret", secure=False,
                         region="us-east-1")


def test_a_held_object_is_not_deleted_until_the_hold_is_lifted(store: ObjectStore) -> None:
    store.put_bytes(KEY, b"footage")
    assert store.enforces_legal_hold()
    assert store.legal_hold(KEY) is False
    assert store.set_legal_hold(KEY, True) is True
    assert store.set_legal_hold(KEY, True) is True  # idempotent
    assert store.legal_hold(KEY) is True
    with pytest.raises(ObjectHeld, match="legal hold"):
        store.delete(KEY)
    assert store.get_bytes(KEY) == b"footage"
    assert [o.key for o in store.list()] == [KEY]  # the hold is no object of its own

    assert store.set_legal_hold(KEY, False) is True
    assert store.legal_hold(KEY) is False
    store.delete(KEY)
    assert not store.exists(KEY)


def test_holding_a_missing_object_says_so(store: ObjectStore) -> None:
    store.put_bytes("clips/other.mp4", b"x")  # the bucket exists; only the key is missing
    with pytest.raises(NotFound):
        store.set_legal_hold("clips/none.mp4", True)
    with pytest.raises(NotFound):
        store.legal_hold("clips/none.mp4")
    with pytest.raises(ValueError):
        store.set_legal_hold("../etc/passwd", True)


def test_local_store_refuses_to_overwrite_a_held_object(tmp_path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    store.put_bytes(KEY, b"original")
    store.put_bytes(KEY, b"replaced before the hold")  # an upload retried after a crash may rewrite its key
    store.set_legal_hold(KEY, True)
    with pytest.raises(ObjectHeld, match="not overwritten"):
        store.put_bytes(KEY, b"tampered")
    assert store.get_bytes(KEY) == b"replaced before the hold"
    # the hold survives a new store object on the same directory (a restarted process)
    again = LocalObjectStore(tmp_path / "objects")
    assert again.legal_hold(KEY) is True
    with pytest.raises(ObjectHeld):
        again.delete(KEY)


def test_s3_server_refuses_to_delete_the_held_version(s3_server: str) -> None:
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    store = s3_at(s3_server, bucket)
    store.put_bytes(KEY, b"footage")
    store.set_legal_hold(KEY, True)
    client = raw_client(s3_server)
    assert client.is_object_legal_hold_enabled(bucket, KEY) is True  # read back through the S3 API
    [version] = [o.version_id for o in client.list_objects(bucket, prefix=KEY, include_version=True)]
    with pytest.raises(S3Error) as refused:
        client.remove_object(bucket, KEY, version_id=version)
    assert refused.value.code == "AccessDenied"
    assert store.get_bytes(KEY) == b"footage"

    store.set_legal_hold(KEY, False)
    assert client.is_object_legal_hold_enabled(bucket, KEY) is False
    client.remove_object(bucket, KEY, version_id=version)
    assert not store.exists(KEY)


def test_a_missing_bucket_is_set_up_with_object_lock_and_versioning(s3_server: str,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    with caplog.at_level(logging.WARNING, logger="storage.objectstore.s3"):
        s3_at(s3_server, bucket).check()  # a worker that starts before `matthan setup-bucket` ran
    admin = BucketAdmin(ObjectStoreConfig(backend="s3", endpoint=s3_server, bucket=bucket, access_key="test",
                                          secret_key="test-secret", secure=False, region="us-east-1"))
    assert admin.has_object_lock(bucket) and admin.versioning_enabled(bucket)
    assert [r.noncurrent_version_expiration.noncurrent_days for r in admin.lifecycle_rules(bucket)] == [7]
    assert f"bucket {bucket} did not exist; set up as `matthan setup-bucket` does" in caplog.text
    assert "object lock on" in caplog.text


def test_a_bucket_without_object_lock_keeps_holds_in_the_database_and_says_so_once(
        s3_server: str, caplog: pytest.LogCaptureFixture) -> None:
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    raw_client(s3_server).make_bucket(bucket)  # made by hand, or by an older matthan, without object lock
    with caplog.at_level(logging.WARNING, logger="storage.objectstore.s3"):
        store = s3_at(s3_server, bucket)
        store.put_bytes(KEY, b"footage")
        assert store.enforces_legal_hold() is False
        assert store.set_legal_hold(KEY, True) is False
        assert store.legal_hold(KEY) is False
        s3_at(s3_server, bucket).check()  # a second store in the same process (web + worker): no second warning
    warnings = [r.getMessage() for r in caplog.records if r.name == "storage.objectstore.s3"]
    assert len(warnings) == 1, warnings
    assert "evidence holds are kept in the database only" in warnings[0]
    assert "run `matthan setup-bucket`" in warnings[0]
    store.delete(KEY)
    assert not store.exists(KEY)
    with pytest.raises(NotFound):
        store.legal_hold(KEY)

