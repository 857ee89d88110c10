"""Pure pieces of the review UI: Range parsing, local time, translations, redirect targets."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from review_ui.i18n import EN, VI
from review_ui.ranges import ByteRange, RangeNotSatisfiable, parse_range
from review_ui.security import safe_next
from review_ui.timefmt import format_duration, format_local, parse_local_input

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.mark.parametrize(("header", "expected"), [
    (None, None), ("", None), ("bytes=0-9", ByteRange(0, 9)), ("bytes=90-", ByteRange(90, 99)),
    ("bytes=-10", ByteRange(90, 99)), ("bytes=-1000", ByteRange(0, 99)), ("bytes=50-5000", ByteRange(50, 99)),
    ("BYTES = 1-1", ByteRange(1, 1)), ("items=0-1", None), ("bytes=0-1,5-6", None),
])
def test_parse_range(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=5-4", "bytes=x-", "bytes=-0", "bytes=", "bytes=+1-2",
                                    "bytes=1_0-20"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 100)


def test_local_times() -> None:
    utc = dt.datetime(2024, 12, 31, 17, 30, 5, tzinfo=dt.UTC)
    assert format_local(utc, HCM) == "01/01/2025 00:30:05"
    assert parse_local_input("2025-01-01T00:30", HCM) == dt.datetime(2024, 12, 31, 17, 30, tzinfo=dt.UTC)
    assert parse_local_input("2025-01-01T00:30:05", HCM) == utc
    assert parse_local_input("", HCM) is None
    with pytest.raises(ValueError):
        parse_local_input("31/12/2024", HCM)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert format_duration(start, start + dt.timedelta(seconds=65)) == "1:05"
    assert format_duration(start, start + dt.timedelta(hours=1, seconds=2)) == "1:00:02"
    assert format_duration(start, None) == ""


def test_both_languages_have_every_string() -> None:
    assert VI.keys() == EN.keys()
    for key in ("nav_events", "nav_cases", "login", "tag_as_evidence", "camera", "time", "note"):
        assert VI[key] != "" and EN[key] != ""
    assert VI["nav_events"] == "Sự kiện" and VI["nav_cases"] == "Vụ việc" and VI["login"] == "Đăng nhập"
    assert VI["tag_as_evidence"] == "Gắn làm chứng cứ" and VI["time"] == "Thời gian" and VI["note"] == "Ghi chú"


def test_templates_use_only_known_strings() -> None:
    templates = Path(__file__).resolve().parents[2] / "review_ui" / "templates"
    used = set()
    for path in templates.glob("*.html"):
        used |= set(re.findall(r"\bt\('([a-z0-9_]+)'", path.read_text(encoding="utf-8")))
    assert used and used <= VI.keys(), used - VI.keys()


@pytest.mark.parametrize(("target", "expected"), [
    ("/cases/3", "/cases/3"), ("/events?camera=a&page=2", "/events?camera=a&page=2"), (None, "/events"),
    ("//evil.example", "/events"), ("https://evil.example", "/events"), ("/\\evil.example", "/events"),
    ("/x\r\nSet-Cookie: a=b", "/events"),
])
def test_safe_next(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected
