"""S3/MinIO object store through the `minio` client; library errors are mapped once, here."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error
from urllib3.exceptions import HTTPError

from storage.errors import IntegrityError, NotFound, ObjectStoreError, ObjectStoreUnavailable
from storage.objectstore.base import CHUNK, ObjectInfo, ObjectStore, StoredObject, file_sha256, validate_key

T = TypeVar("T")
_MISSING = {"NoSuchKey", "NoSuchObject", "NoSuchBucket"}


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
        self._bucket_ready = False

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
            raise ObjectStoreUnavailable(
                f"S3 endpoint {self.endpoint} unreachable during {what} {key} ({type(exc).__name__}); "
                "segments stay in the spool and upload when it returns"
            ) from exc

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return

        def ensure() -> None:
            if not self._client.bucket_exists(self.bucket):
                self._client.make_bucket(self.bucket)

        self._call("create bucket", self.bucket, ensure)
        self._bucket_ready = True

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
        validate_key(key)
        try:
            self._call("delete", key, lambda: self._client.remove_object(self.bucket, key))
        except NotFound:
            pass

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
