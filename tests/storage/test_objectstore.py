"""The object-store contract, run on the local directory and on a real S3-protocol server."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from storage.errors import IntegrityError, NotFound, ObjectStoreUnavailable
from storage.objectstore import ObjectStore, S3ObjectStore


def test_put_file_reports_size_and_sha256(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    src = tmp_path / "seg.ts"
    src.write_bytes(data)
    stored = store.put_file("segments/cam-01/2026/11/22/01/20261122T010000Z.ts", src, content_type="video/mp2t")
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert store.stat(stored.key).size == len(data)
    assert store.get_bytes(stored.key) == data
    assert store.sha256(stored.key) == stored.sha256


def test_ranges(store: ObjectStore) -> None:
    data = bytes(range(256)) * 50
    store.put_bytes("clips/cam-01/1.mp4", data)
    assert b"".join(store.iter_range("clips/cam-01/1.mp4", 100, 1000)) == data[100:1100]
    assert b"".join(store.iter_range("clips/cam-01/1.mp4", 12000)) == data[12000:]


def test_missing_objects_raise_not_found(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        store.stat("clips/none.mp4")
    with pytest.raises(NotFound):
        b"".join(store.iter_range("clips/none.mp4"))
    assert not store.exists("clips/none.mp4")
    store.delete("clips/none.mp4")  # deleting nothing is fine


def test_list_by_prefix_in_key_order(store: ObjectStore) -> None:
    for key in ["segments/b/2.ts", "segments/a/1.ts", "segments/a/0.ts", "clips/x.mp4"]:
        store.put_bytes(key, key.encode())
    assert [o.key for o in store.list("segments/a/")] == ["segments/a/0.ts", "segments/a/1.ts"]
    assert [o.key for o in store.list("segments/")] == ["segments/a/0.ts", "segments/a/1.ts", "segments/b/2.ts"]
    store.delete("segments/a/0.ts")
    assert not store.exists("segments/a/0.ts")


def test_download_checks_the_hash(store: ObjectStore, tmp_path: Path) -> None:
    store.put_bytes("segments/c/1.ts", b"footage")
    good = store.download("segments/c/1.ts", tmp_path / "ok.ts", expect_sha256=hashlib.sha256(b"footage").hexdigest())
    assert (tmp_path / "ok.ts").read_bytes() == b"footage" and good.size == 7
    with pytest.raises(IntegrityError):
        store.download("segments/c/1.ts", tmp_path / "bad.ts", expect_sha256="0" * 64)


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a/../b", "a//b", "", "dir/"])
def test_bad_keys_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(ValueError):
        store.put_bytes(key, b"x")


def test_unreachable_s3_is_reported_as_unavailable(tmp_path: Path) -> None:
    # Port 9 on loopback: nothing listens, so the connection is refused at once.
    dead = S3ObjectStore(endpoint="127.0.0.1:9", bucket="matthan", access_key="k", secret_key="s" * 20, secure=False)
    with pytest.raises(ObjectStoreUnavailable, match="unreachable"):
        dead.check()
    src = tmp_path / "x.ts"
    src.write_bytes(b"x")
    with pytest.raises(ObjectStoreUnavailable):
        dead.put_file("segments/x.ts", src)
