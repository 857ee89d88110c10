"""S3/MinIO object store through the `minio` client; library errors are mapped once, here.

The bucket is made by `matthan setup-bucket` (object lock, versioning, expiry of old versions). A process that finds
no bucket sets it up the same way (storage.buckets), so no bucket is ever created without object lock. Legal holds
(PutObjectLegalHold) are used only when the bucket has object lock, read once per store; on a bucket without it a
warning says once that evidence holds are database-only and how to get object lock."""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error
from pydantic import SecretStr
from urllib3.exceptions import HTTPError

from config.settings import ObjectStoreConfig
from storage.buckets import BucketAdmin, prepare_bucket
from storage.errors import IntegrityError, NotFound, ObjectHeld, ObjectStoreError, ObjectStoreUnavailable
from storage.objectstore.base import CHUNK, ObjectInfo, ObjectStore, StoredObject, file_sha256, validate_key

logger = logging.getLogger(__name__)
T = TypeVar("T")
_MISSING = {"NoSuchKey", "NoSuchObject", "NoSuchBucket"}
_warned_unlocked: set[tuple[str, str]] = set()  # (endpoint, bucket): the warning is said once per process


class S3ObjectStore(ObjectStore):
    name = "s3"

    def __init__(
        self, *, endpoint: str, bucket: str, access_key: str, secret_key: str, secure: bool, region: str | None = None
    ) -> None:
        self.endpoint = endpoint
        self.bucket = bucket
        # Short timeouts and few retries: an outage must surface quickly so the uploader can back off and keep
        # the segment in the spool, instead of hanging a worker thread for minutes.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5.0, read=60.0),
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)),
            maxsize=8,
        )
        self._client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region, http_client=http
        )
        self._config = ObjectStoreConfig(backend="s3", endpoint=endpoint, bucket=bucket, access_key=access_key,
                                         secret_key=SecretStr(secret_key), secure=secure, region=region)
        self._bucket_ready = False
        self._object_lock = False  # read with the bucket, once (object lock can only be chosen at creation)

    def _call(self, what: str, key: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except S3Error as exc:
            if exc.code in _MISSING:
                raise NotFound(f"no object {key} in bucket {self.bucket}") from exc
            if exc.code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise ObjectStoreError(
                    f"S3 {what} {key}: {exc.code}; check objectstore.access_key/secret_key and the bucket policy"
                ) from exc
            raise ObjectStoreError(f"S3 {what} {key}: {exc.code} {exc.message}") from exc
        except (HTTPError, OSError, MinioException) as exc:
            after = ("segments stay in the spool and upload when it returns" if what == "upload" else
                     "try again when it answers")
            raise ObjectStoreUnavailable(
                f"S3 endpoint {self.endpoint} unreachable during {what} {key} ({type(exc).__name__}); {after}"
            ) from exc

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        admin = BucketAdmin(self._config, client=self._client)
        if not self._call("look up bucket", self.bucket, lambda: self._client.bucket_exists(self.bucket)):
            self._set_up_bucket(admin)
        self._object_lock = self._read_object_lock(admin)
        self._bucket_ready = True

    def _set_up_bucket(self, admin: BucketAdmin) -> None:
        try:
            done = prepare_bucket(admin, self.bucket)
        except ObjectStoreUnavailable:
            raise
        except ObjectStoreError as exc:
            raise ObjectStoreError(
                f"bucket {self.bucket} does not exist at {self.endpoint} and could not be created with object lock "
                f"({exc}); run `matthan setup-bucket` (with keys that may create buckets), then start again"
            ) from exc
        logger.warning("bucket %s did not exist; set up as `matthan setup-bucket` does: created=%s, versioning %s, "
                       "object lock %s", self.bucket, done.created, "on" if done.versioning else "OFF",
                       "on" if done.object_lock else "OFF")
        for note in done.notes:
            logger.warning("bucket %s: %s", self.bucket, note)

    def _read_object_lock(self, admin: BucketAdmin) -> bool:
        try:
            locked = admin.has_object_lock(self.bucket)
        except ObjectStoreUnavailable:
            raise
        except ObjectStoreError as exc:  # e.g. a policy without s3:GetBucketObjectLockConfiguration
            locked, why = False, f"its object lock setting cannot be read ({exc})"
        else:
            why = "it was created without object lock"
        if not locked and (self.endpoint, self.bucket) not in _warned_unlocked:
            _warned_unlocked.add((self.endpoint, self.bucket))
            logger.warning(
                "bucket %s: %s, so evidence holds are kept in the database only: retention never deletes held "
                "segments, but the store itself does not refuse a deletion. Object lock can only be enabled when a "
                "bucket is created: set objectstore.bucket to a new name, run `matthan setup-bucket`, copy the "
                "objects across (mc mirror --preserve), then switch the stations over", self.bucket, why)
        return locked

    def _confirm(self, key: str, size: int, sha256: str) -> StoredObject:
        info = self.stat(key)
        if info.size != size:
            raise IntegrityError(f"S3 holds {info.size} bytes for {key}, {size} were sent; will retry")
        return StoredObject(key=key, size=size, sha256=sha256)

    def put_file(self, key: str, path: Path, *, content_type: str = "application/octet-stream") -> StoredObject:
        validate_key(key)
        self._ensure_bucket()
        size, sha = file_sha256(path)
        self._call(
            "upload",
            key,
            lambda: self._client.fput_object(
                self.bucket, key, str(path), content_type=content_type, metadata={"sha256": sha}
            ),
        )
        return self._confirm(key, size, sha)

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> StoredObject:
        validate_key(key)
        self._ensure_bucket()
        sha = hashlib.sha256(data).hexdigest()
        self._call(
            "upload",
            key,
            lambda: self._client.put_object(
                self.bucket, key, io.BytesIO(data), len(data), content_type=content_type, metadata={"sha256": sha}
            ),
        )
        return self._confirm(key, len(data), sha)

    def stat(self, key: str) -> ObjectInfo:
        validate_key(key)
        stat = self._call("stat", key, lambda: self._client.stat_object(self.bucket, key))
        return ObjectInfo(key=key, size=int(stat.size or 0))

    def iter_range(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        validate_key(key)
        response = self._call(
            "read", key, lambda: self._client.get_object(self.bucket, key, offset=start, length=length or 0)
        )
        return self._stream(key, response)

    def _stream(self, key: str, response) -> Iterator[bytes]:  # type: ignore[no-untyped-def]
        try:
            while True:
                chunk = self._call("read", key, lambda: response.read(CHUNK))
                if not chunk:
                    return
                yield chunk
        finally:
            response.close()
            response.release_conn()

    def delete(self, key: str) -> None:
        """On a versioned bucket this leaves a delete marker (the lifecycle rule frees the old version later). A
        held object is refused here, before that: S3 would accept the marker and only protect the held version."""
        validate_key(key)
        try:
            if self.enforces_legal_hold() and self._held(key):
                raise ObjectHeld(f"{key} is under legal hold (evidence) in bucket {self.bucket}; it is not deleted. "
                                 "The hold is lifted when no evidence in any case covers it any more")
            self._call("delete", key, lambda: self._client.remove_object(self.bucket, key))
        except NotFound:
            pass

    def enforces_legal_hold(self) -> bool:
        self._ensure_bucket()
        return self._object_lock

    def set_legal_hold(self, key: str, on: bool) -> bool:
        validate_key(key)
        if not self.enforces_legal_hold():
            return False
        # Ask first: servers differ on a missing key (MinIO: NoSuchKey; moto answers 500, which would read as an
        # outage). Holds are set a few at a time, when evidence is tagged, so the extra request costs nothing.
        self.stat(key)
        if on:
            self._call("set the legal hold on", key, lambda: self._client.enable_object_legal_hold(self.bucket, key))
        else:
            self._call("lift the legal hold on", key,
                       lambda: self._client.disable_object_legal_hold(self.bucket, key))
        return True

    def legal_hold(self, key: str) -> bool:
        validate_key(key)
        if not self.enforces_legal_hold():
            self.stat(key)
            return False
        return self._held(key)

    def _held(self, key: str) -> bool:
        return bool(self._call("read the legal hold of", key,
                               lambda: self._client.is_object_legal_hold_enabled(self.bucket, key)))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        self._ensure_bucket()
        objects = self._call(
            "list", prefix, lambda: list(self._client.list_objects(self.bucket, prefix=prefix, recursive=True))
        )
        for obj in sorted(objects, key=lambda o: o.object_name or ""):
            if obj.object_name:
                yield ObjectInfo(key=obj.object_name, size=int(obj.size or 0))

    def check(self) -> None:
        self._bucket_ready = False
        self._ensure_bucket()
