"""Clips and snapshots over HTTP with Range support (what a <video> element needs to play and seek)."""

from __future__ import annotations

import httpx


def test_whole_clip(login, seed) -> None:
    answer = login("duty").get(f"/media/events/{seed.events['market'].id}/clip.mp4")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "video/mp4"
    assert answer.headers["accept-ranges"] == "bytes"
    assert int(answer.headers["content-length"]) == len(seed.clip_bytes)
    assert answer.content == seed.clip_bytes
    assert "private" in answer.headers["cache-control"]


def test_byte_ranges(login, seed) -> None:
    client = login("duty")
    url = f"/media/events/{seed.events['market'].id}/clip.mp4"
    size = len(seed.clip_bytes)
    for header, start, end in [("bytes=0-99", 0, 99), ("bytes=1000-", 1000, size - 1),
                               ("bytes=-500", size - 500, size - 1), (f"bytes=100-{size + 5000}", 100, size - 1),
                               ("bytes=0-0", 0, 0)]:
        answer = client.get(url, headers={"Range": header})
        assert answer.status_code == 206, header
        assert answer.headers["content-range"] == f"bytes {start}-{end}/{size}", header
        assert int(answer.headers["content-length"]) == end - start + 1
        assert answer.content == seed.clip_bytes[start:end + 1], header


def test_bad_ranges_are_416(login, seed) -> None:
    client = login("duty")
    url = f"/media/events/{seed.events['market'].id}/clip.mp4"
    size = len(seed.clip_bytes)
    for header in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=500-100", "bytes=abc", "bytes=-0",
                   "bytes=-", "bytes=1-2-3"):
        answer = client.get(url, headers={"Range": header})
        assert answer.status_code == 416, header
        assert answer.headers["content-range"] == f"bytes */{size}"
    # Units we do not know and multi-range requests get the whole clip, as RFC 9110 allows.
    assert client.get(url, headers={"Range": "items=0-5"}).status_code == 200
    assert client.get(url, headers={"Range": "bytes=0-5,10-20"}).status_code == 200


def test_head_snapshot_and_missing_media(login, seed) -> None:
    client = login("duty")
    ev = seed.events["market"]
    head = client.head(f"/media/events/{ev.id}/clip.mp4")
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(seed.clip_bytes)
    assert head.content == b""
    snap = client.get(f"/media/events/{ev.id}/snapshot.jpg")
    assert snap.status_code == 200
    assert snap.headers["content-type"] == "image/jpeg"
    assert snap.content[:3] == b"\xff\xd8\xff"
    pending = seed.events["market_pending"].id
    assert client.get(f"/media/events/{pending}/clip.mp4").status_code == 404
    assert client.get(f"/media/events/{pending}/snapshot.jpg").status_code == 404
    assert client.get("/media/events/999999/clip.mp4").status_code == 404


def test_media_needs_a_login(anonymous: httpx.Client, seed) -> None:
    answer = anonymous.get(f"/media/events/{seed.events['market'].id}/clip.mp4", headers={"Range": "bytes=0-10"})
    assert answer.status_code == 401
    assert seed.clip_bytes[:10] not in answer.content
