"""HTTP Range requests over object-store objects: browsers need 206 answers to play and seek video."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from starlette.responses import Response, StreamingResponse

from storage.objectstore import ObjectStore


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class RangeNotSatisfiable(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"range not satisfiable for {size} bytes")
        self.size = size


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one byte range asked for, or None to send the whole object.

    Unknown units and multi-range requests are ignored (RFC 9110 lets a server send the whole object instead);
    a malformed or unsatisfiable byte range raises RangeNotSatisfiable."""
    if not header:
        return None
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    first, last = first.strip(), last.strip()
    if not dash or not (first or last) or not all(p.isdigit() for p in (first, last) if p):
        raise RangeNotSatisfiable(size)
    if not first:  # "-N": the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if start > end or start >= size:
        raise RangeNotSatisfiable(size)
    return ByteRange(start, min(end, size - 1))


def object_response(
    store: ObjectStore, key: str, *, media_type: str, range_header: str | None, head: bool = False,
    extra_headers: dict[str, str] | None = None,
) -> Response:
    """200 with the whole object, 206 with one range, or 416; store errors (NotFound, ObjectStoreUnavailable) are
    raised here, before the answer starts, so the app's error mapping can still turn them into 404/503."""
    size = store.stat(key).size
    headers = {"Accept-Ranges": "bytes", **(extra_headers or {})}
    try:
        wanted = parse_range(range_header, size)
    except RangeNotSatisfiable:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    if wanted is None:
        status, start, length = 200, 0, size
    else:
        status, start, length = 206, wanted.start, wanted.length
        headers["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{size}"
    headers["Content-Length"] = str(length)
    if head:
        return Response(status_code=status, headers=headers, media_type=media_type)
    chunks: Iterator[bytes] = store.iter_range(key, start, length)
    return StreamingResponse(chunks, status_code=status, headers=headers, media_type=media_type)
