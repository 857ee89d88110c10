"""`matthan setup-bucket` against a real S3-protocol server (moto on 127.0.0.1): object lock, versioning, lifecycle."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from minio import Minio

from config.settings import ObjectStoreConfig
from storage.buckets import LIFECYCLE_RULE_ID, BucketAdmin, setup_bucket
from storage.errors import ObjectStoreError, ObjectStoreUnavailable
from tests.conftest import settings_values

MATTHAN = Path(sys.executable).with_name("matthan")


def s3_config(endpoint: str, bucket: str | None = None) -> ObjectStoreConfig:
    return ObjectStoreConfig(backend="s3", endpoint=endpoint, bucket=bucket or f"ev-{uuid.uuid4().hex[:12]}",
                             access_key="test", secret_key="test-secret", secure=False, region="us-east-1")


def run_setup(tmp: Path, config: ObjectStoreConfig, *args: str) -> subprocess.CompletedProcess[str]:
    values = settings_values(tmp, objectstore={**config.model_dump(mode="json"),
                                               "secret_key": config.secret_key.get_secret_value()})
    path = tmp / "settings.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return subprocess.run([str(MATTHAN), "setup-bucket", "--config", str(path), *args], capture_output=True,
                          text=True, timeout=60)


def test_new_bucket_gets_object_lock_versioning_and_lifecycle(tmp_path: Path, s3_server: str) -> None:
    config = s3_config(s3_server)
    done = run_setup(tmp_path, config)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"bucket {config.bucket}: created, versioning on, object lock on, old versions "
                                   "expire after 7 days")
    assert done.stderr == ""
    admin = BucketAdmin(config)
    assert admin.has_object_lock(config.bucket) and admin.versioning_enabled(config.bucket)
    [rule] = admin.lifecycle_rules(config.bucket)
    assert rule.rule_id == LIFECYCLE_RULE_ID and rule.noncurrent_version_expiration.noncurrent_days == 7

    # a legal hold on an object works in this bucket: what evidence tagging can rely on
    client = Minio(s3_server, access_key="test", secret_key="test-secret", secure=False, region="us-east-1")
    client.put_object(config.bucket, "segments/cam-01/a.ts", io.BytesIO(b"x" * 10), 10)
    client.enable_object_legal_hold(config.bucket, "segments/cam-01/a.ts")
    assert client.is_object_legal_hold_enabled(config.bucket, "segments/cam-01/a.ts")

    again = run_setup(tmp_path, config, "--noncurrent-days", "30")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"bucket {config.bucket}: exists, versioning on, object lock on")
    assert admin.lifecycle_rules(config.bucket)[0].noncurrent_version_expiration.noncurrent_days == 30


def test_existing_bucket_without_lock_is_versioned_and_the_operator_told_why_no_lock(tmp_path: Path,
                                                                                     s3_server: str) -> None:
    config = s3_config(s3_server)
    BucketAdmin(config).create(config.bucket, object_lock=False)
    done = run_setup(tmp_path, config)
    assert done.returncode == 0, done.stderr
    assert "versioning on, object lock OFF" in done.stdout
    assert "object lock can only be enabled when a bucket is created" in done.stderr
    assert BucketAdmin(config).versioning_enabled(config.bucket)


def test_without_object_lock_when_asked(s3_server: str) -> None:
    config = s3_config(s3_server)
    done = setup_bucket(config, object_lock=False, noncurrent_days=None)
    assert (done.created, done.versioning, done.object_lock, done.notes) == (True, True, False, [])
    assert BucketAdmin(config).lifecycle_rules(config.bucket) == []


def test_unreachable_endpoint_and_local_backend_say_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ObjectStoreUnavailable, match="unreachable .* check that MinIO runs"):
        setup_bucket(s3_config(f"127.0.0.1:{port}"))
    with pytest.raises(ObjectStoreError, match="local backend needs no set-up"):
        setup_bucket(ObjectStoreConfig(backend="local", path=tmp_path))
    done = run_setup(tmp_path, s3_config(f"127.0.0.1:{port}"))
    assert done.returncode == 1 and "unreachable" in done.stderr
