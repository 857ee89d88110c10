"""Local-directory object store: the embedded default. Writes are atomic (temp file, fsync, rename)."""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from storage.errors import NotFound, ObjectStoreError, ObjectStoreUnavailable
from storage.objectstore.base import CHUNK, ObjectInfo, ObjectStore, StoredObject, validate_key


class LocalObjectStore(ObjectStore):
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def _write(self, key: str, chunks: Iterator[bytes]) -> StoredObject:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        digest = hashlib.sha256()
        size = 0
        try:
            with open(tmp, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.errno == errno.ENOSPC:
                raise ObjectStoreUnavailable(
                    f"object store {self.root} is full; free space or move objectstore.path to a larger disk"
                ) from exc
            raise ObjectStoreError(f"cannot write {key} under {self.root}: {exc.strerror}") from exc
        return StoredObject(key=key, size=size, sha256=digest.hexdigest())

    def put_file(self, key: str, path: Path, *, content_type: str = "application/octet-stream") -> StoredObject:
        def chunks() -> Iterator[bytes]:
            with open(path, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    yield chunk

        return self._write(key, chunks())

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> StoredObject:
        return self._write(key, iter([data]))

    def stat(self, key: str) -> ObjectInfo:
        try:
            return ObjectInfo(key=key, size=self._path(key).stat().st_size)
        except FileNotFoundError as exc:
            raise NotFound(f"no object {key}") from exc

    def iter_range(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        path = self._path(key)
        try:
            fh = open(path, "rb")
        except FileNotFoundError as exc:
            raise NotFound(f"no object {key}") from exc
        return self._read(fh, start, length)

    @staticmethod
    def _read(fh, start: int, length: int | None) -> Iterator[bytes]:  # type: ignore[no-untyped-def]
        with fh:
            fh.seek(start)
            remaining = length
            while remaining is None or remaining > 0:
                chunk = fh.read(CHUNK if remaining is None else min(CHUNK, remaining))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        keys = []
        for path in self.root.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append((key, path.stat().st_size))
        for key, size in sorted(keys):
            yield ObjectInfo(key=key, size=size)

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise ObjectStoreUnavailable(f"object store directory {self.root} is not writable; check its permissions")
