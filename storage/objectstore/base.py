"""The object-store interface shared by the local and S3 backends."""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from storage.errors import IntegrityError, NotFound

CHUNK = 1024 * 1024
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,500}$")


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str


def validate_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key.split("/") or "//" in key or key.endswith("/"):
        raise ValueError(f"invalid object key {key!r}")
    return key


def file_sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


class ObjectStore(ABC):
    """Keys look like segments/<camera>/<yyyy>/<mm>/<dd>/<hh>/<start>.ts; values are immutable once written."""

    name: str

    @abstractmethod
    def put_file(self, key: str, path: Path, *, content_type: str = "application/octet-stream") -> StoredObject:
        """Store a file's bytes under key; returns size and SHA-256 after the store confirmed the size."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> StoredObject:
        ...

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """Raises NotFound."""

    @abstractmethod
    def iter_range(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The object's bytes from `start`, `length` of them (all to the end when None), in chunks."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove key; a missing key is not an error. Raises ObjectHeld for an object under legal hold."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with prefix, in key order."""

    @abstractmethod
    def check(self) -> None:
        """Raise ObjectStoreUnavailable unless the store answers now."""

    # --- Legal hold. The database says what is held (Segment.legal_hold, Evidence rows) and retention obeys it;
    # the store's own hold is the second line: whoever deletes through the store is refused (ObjectHeld).

    @abstractmethod
    def enforces_legal_hold(self) -> bool:
        """True when the store itself refuses to delete a held object; False when holds are database-only here
        (an S3 bucket created without object lock: set_legal_hold then does nothing)."""

    @abstractmethod
    def set_legal_hold(self, key: str, on: bool) -> bool:
        """Put (on=True) or lift (on=False) the legal hold on key; idempotent. Returns False when this store keeps no
        holds (see enforces_legal_hold) and did nothing. Raises NotFound for a missing key."""

    @abstractmethod
    def legal_hold(self, key: str) -> bool:
        """Whether key is under legal hold in the store (False when the store keeps no holds). Raises NotFound."""

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except NotFound:
            return False
        return True

    def get_bytes(self, key: str) -> bytes:
        return b"".join(self.iter_range(key))

    def download(self, key: str, path: Path, *, expect_sha256: str | None = None) -> StoredObject:
        """Copy an object to a local file; with expect_sha256, raise IntegrityError if the bytes differ."""
        digest = hashlib.sha256()
        size = 0
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "wb") as fh:
            for chunk in self.iter_range(key):
                fh.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        tmp.replace(path)
        sha = digest.hexdigest()
        if expect_sha256 is not None and sha != expect_sha256:
            raise IntegrityError(f"object {key} does not match its recorded SHA-256 ({sha} != {expect_sha256})")
        return StoredObject(key=key, size=size, sha256=sha)

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        for chunk in self.iter_range(key):
            digest.update(chunk)
        return digest.hexdigest()
