"""Local-directory object store: the embedded default. Writes are atomic (temp file, fsync, rename).

Legal holds are recorded as empty marker files under <root>/.legal-hold/<key>, and this store refuses to delete or
overwrite a held object. The database hold already keeps retention away from evidence; the marker is the second line
for every other path that deletes by key (a clip rebuilt, a cleanup script, a future bug), so the embedded default
keeps the same contract as a MinIO bucket with object lock. It is not tamper-proof: whoever has a shell on the box can
still remove the files (object lock on MinIO is what protects against that)."""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from storage.errors import NotFound, ObjectHeld, ObjectStoreError, ObjectStoreUnavailable
from storage.objectstore.base import CHUNK, ObjectInfo, ObjectStore, StoredObject, validate_key


HOLDS_DIR = ".legal-hold"  # keys start with a letter or digit, so no key can reach into it


class LocalObjectStore(ObjectStore):
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def _hold_path(self, key: str) -> Path:
        return self.root / HOLDS_DIR / validate_key(key)

    def _write(self, key: str, chunks: Iterator[bytes]) -> StoredObject:
        target = self._path(key)
        if target.exists() and self._hold_path(key).exists():
            raise ObjectHeld(f"{key} is under legal hold (evidence); it is not overwritten")
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
        path = self._path(key)
        if path.exists() and self._hold_path(key).exists():
            raise ObjectHeld(f"{key} is under legal hold (evidence); it is not deleted. The hold is lifted when no "
                             "evidence in any case covers it any more")
        path.unlink(missing_ok=True)

    def enforces_legal_hold(self) -> bool:
        return True

    def set_legal_hold(self, key: str, on: bool) -> bool:
        marker = self._hold_path(key)
        try:
            if on:
                self.stat(key)  # NotFound: nothing to hold
                marker.parent.mkdir(parents=True, exist_ok=True)
                with open(marker, "ab") as fh:
                    os.fsync(fh.fileno())
            else:
                marker.unlink(missing_ok=True)
            _fsync_dir(marker.parent)
        except FileNotFoundError:
            if on:
                raise NotFound(f"no object {key}") from None
        except OSError as exc:
            raise ObjectStoreError(f"cannot {'set' if on else 'lift'} the legal hold on {key} under {self.root}: "
                                   f"{exc.strerror}") from exc
        if not on:
            self.stat(key)  # lifting a missing object's hold clears a leftover marker, then says it is missing
        return True

    def legal_hold(self, key: str) -> bool:
        self.stat(key)
        return self._hold_path(key).exists()

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        keys = []
        for top in self.root.iterdir() if self.root.is_dir() else []:  # a wiped directory holds nothing
            if top.name.startswith("."):  # hold markers, or anything else that is not an object
                continue
            for path in top.rglob("*") if top.is_dir() else [top]:
                if path.is_file() and not path.name.startswith("."):
                    key = path.relative_to(self.root).as_posix()
                    if key.startswith(prefix):
                        keys.append((key, path.stat().st_size))
        for key, size in sorted(keys):
            yield ObjectInfo(key=key, size=size)

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise ObjectStoreUnavailable(f"object store directory {self.root} is not writable; check its permissions")


def _fsync_dir(path: Path) -> None:
    """Make a marker's creation or removal durable (the hold-sync row is deleted once this returns)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
