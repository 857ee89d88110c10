"""Bucket set-up for S3/MinIO: create the bucket with object lock, turn versioning on, expire old versions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import urllib3
from minio import Minio
from minio.commonconfig import ENABLED, Filter
from minio.error import MinioException, S3Error
from minio.lifecycleconfig import Expiration, LifecycleConfig, NoncurrentVersionExpiration, Rule
from minio.versioningconfig import VersioningConfig
from urllib3.exceptions import HTTPError

from config.settings import ObjectStoreConfig
from storage.errors import ObjectStoreError, ObjectStoreUnavailable

logger = logging.getLogger(__name__)
T = TypeVar("T")
LIFECYCLE_RULE_ID = "matthan-expire-noncurrent"
NONCURRENT_DAYS = 7  # setup-bucket's default: deleted segments' old versions are freed after a week
# another process created the bucket between our look-up and our create
_ALREADY_THERE = {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}
# what servers answer when they have no object lock (or it is switched off for this bucket)
_NO_LOCK = {"ObjectLockConfigurationNotFoundError", "NotImplemented", "InvalidRequest", "InvalidBucketState",
            "MalformedXML"}


@dataclass(frozen=True)
class BucketSetup:
    """What `setup_bucket` found and did; `notes` say, in words for the operator, what is missing and why."""

    bucket: str
    created: bool
    versioning: bool
    object_lock: bool
    noncurrent_days: int | None
    notes: list[str] = field(default_factory=list)


class BucketAdmin:
    """The few bucket-level S3 calls the set-up needs; minio's errors become ours here, once."""

    def __init__(self, config: ObjectStoreConfig, *, client: Minio | None = None) -> None:
        """`client`: an S3ObjectStore's own client, so a store that sets its bucket up reuses its connections."""
        self.endpoint = config.endpoint
        self.region = config.region
        if client is None:
            http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5.0, read=60.0),
                                       retries=urllib3.Retry(total=2, backoff_factor=0.2))
            client = Minio(config.endpoint, access_key=config.access_key,
                           secret_key=config.secret_key.get_secret_value(), secure=config.secure,
                           region=config.region, http_client=http)  # fmt: skip
        self._client = client

    def call(self, what: str, bucket: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except S3Error as exc:
            if exc.code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise ObjectStoreError(
                    f"S3 {what} {bucket}: {exc.code}; check objectstore.access_key/secret_key and that this user may "
                    "administer buckets (MinIO policy readwrite or consoleAdmin)"
                ) from exc
            raise BucketCallRefused(what, bucket, exc.code or "", exc.message or "") from exc
        except (HTTPError, OSError, MinioException) as exc:
            raise ObjectStoreUnavailable(
                f"S3 endpoint {self.endpoint} unreachable during {what} {bucket} ({type(exc).__name__}); check that "
                "MinIO runs and objectstore.endpoint/secure are right, then run setup-bucket again"
            ) from exc

    def exists(self, bucket: str) -> bool:
        return self.call("look up bucket", bucket, lambda: self._client.bucket_exists(bucket))

    def create(self, bucket: str, *, object_lock: bool) -> None:
        self.call("create bucket", bucket, lambda: self._client.make_bucket(bucket, self.region, object_lock=object_lock))

    def has_object_lock(self, bucket: str) -> bool:
        try:
            config = self.call("read object lock of", bucket, lambda: self._client.get_object_lock_config(bucket))
        except BucketCallRefused as exc:
            if exc.code in _NO_LOCK:
                return False
            raise
        return config is not None

    def enable_versioning(self, bucket: str) -> None:
        self.call("enable versioning on", bucket,
                  lambda: self._client.set_bucket_versioning(bucket, VersioningConfig(ENABLED)))

    def versioning_enabled(self, bucket: str) -> bool:
        return self.call("read versioning of", bucket, lambda: self._client.get_bucket_versioning(bucket)).status == ENABLED

    def expire_noncurrent(self, bucket: str, days: int) -> None:
        # Retention deletes a segment by its key; on a versioned bucket that leaves the bytes as a noncurrent version.
        # This rule frees them after `days` (S3 and MinIO never expire a version under legal hold or retention).
        rule = Rule(ENABLED, rule_filter=Filter(prefix=""), rule_id=LIFECYCLE_RULE_ID,
                    noncurrent_version_expiration=NoncurrentVersionExpiration(noncurrent_days=days),
                    expiration=Expiration(expired_object_delete_marker=True))  # fmt: skip
        self.call("set lifecycle on", bucket, lambda: self._client.set_bucket_lifecycle(bucket, LifecycleConfig([rule])))

    def lifecycle_rules(self, bucket: str) -> list[Rule]:
        config = self.call("read lifecycle of", bucket, lambda: self._client.get_bucket_lifecycle(bucket))
        return list(config.rules) if config is not None else []


class BucketCallRefused(ObjectStoreError):
    """The server answered a bucket call with an S3 error code (kept in `code` so the set-up can decide)."""

    def __init__(self, what: str, bucket: str, code: str, message: str) -> None:
        super().__init__(f"S3 {what} {bucket}: {code} {message}".strip())
        self.code = code


def setup_bucket(config: ObjectStoreConfig, *, object_lock: bool = True,
                 noncurrent_days: int | None = NONCURRENT_DAYS) -> BucketSetup:
    """Create `config.bucket` if missing (with object lock when asked and the server has it), enable versioning,
    and, with noncurrent_days, a lifecycle rule that frees deleted segments' old versions after that many days.
    Safe to run again. Raises ObjectStoreError/ObjectStoreUnavailable with a message saying what to do."""
    if config.backend != "s3":
        raise ObjectStoreError("setup-bucket is for the s3 backend (MinIO); the local backend needs no set-up: "
                               f"it writes under objectstore.path ({config.path})")
    return prepare_bucket(BucketAdmin(config), config.bucket, object_lock=object_lock, noncurrent_days=noncurrent_days)


def prepare_bucket(admin: BucketAdmin, bucket: str, *, object_lock: bool = True,
                   noncurrent_days: int | None = NONCURRENT_DAYS) -> BucketSetup:
    """The set-up itself, through `admin`: what `matthan setup-bucket` does, and what a store does for a bucket that
    does not exist yet (so no process ever creates the evidence bucket without object lock)."""
    notes: list[str] = []
    created = False
    if not admin.exists(bucket):
        try:
            created = _create(admin, bucket, object_lock=object_lock)
        except BucketCallRefused as exc:
            if not object_lock or exc.code not in _NO_LOCK:
                raise
            created = _create(admin, bucket, object_lock=False)
            notes.append(f"the server refused object lock ({exc.code}); bucket {bucket} was created without it. "
                         "Evidence is still held in the database (retention never deletes it), but the store itself "
                         "does not prevent a deletion. MinIO has object lock; use MinIO for the evidence bucket")
    locked = admin.has_object_lock(bucket)
    if object_lock and not locked and not created:
        notes.append(f"bucket {bucket} already exists without object lock, and object lock can only be enabled when "
                     "a bucket is created. To have it: set objectstore.bucket to a new name, run setup-bucket, copy "
                     f"the objects across (mc mirror --preserve old/{bucket} new/NEW), then switch the stations over")
    admin.enable_versioning(bucket)
    versioning = admin.versioning_enabled(bucket)
    if not versioning:
        notes.append(f"bucket {bucket}: the server did not keep versioning enabled; a deleted or overwritten object "
                     "cannot be recovered from the store")
    if noncurrent_days is not None:
        admin.expire_noncurrent(bucket, noncurrent_days)
    logger.info("bucket %s: created=%s versioning=%s object_lock=%s", bucket, created, versioning, locked)
    return BucketSetup(bucket=bucket, created=created, versioning=versioning, object_lock=locked,
                       noncurrent_days=noncurrent_days, notes=notes)


def _create(admin: BucketAdmin, bucket: str, *, object_lock: bool) -> bool:
    """Create the bucket; False when another process created it first (two workers starting together)."""
    try:
        admin.create(bucket, object_lock=object_lock)
    except BucketCallRefused as exc:
        if exc.code in _ALREADY_THERE:
            return False
        raise
    return True
