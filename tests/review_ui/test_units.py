"""Pure pieces of the review UI: Range parsing, local time, translations, redirect targets."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from review_ui.const import EVENT_KINDS, OBJECT_LABELS, TAMPER_REASONS
from review_ui.i18n import EN, VI, translate_value, translator
from review_ui.ranges import ByteRange, RangeNotSatisfiable, parse_range
from review_ui.security import safe_next
from review_ui.templating import format_percent
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


def test_kinds_labels_and_alerts_in_words() -> None:
    vi, en = translator("vi"), translator("en")
    expected = {
        "kind": {"motion": ("Chuyển động", "Motion"), "vehicle": ("Phương tiện", "Vehicle"),
                 "person": ("Người", "Person"), "tamper": ("Che/xoay camera (phá hoại)", "Camera covered or turned "
                                                                                       "(tampering)"),
                 "offline": ("Mất tín hiệu", "Signal lost")},
        "label": {"motorbike": ("xe máy", "motorbike"), "car": ("ô tô", "car"), "bus": ("xe buýt", "bus"),
                  "truck": ("xe tải", "truck"), "bicycle": ("xe đạp", "bicycle"), "person": ("người", "person"),
                  "covered": ("bị che", "covered"), "turned": ("bị xoay", "turned")},
        "alert": {"detector_unavailable": ("Nhận dạng phương tiện/người đang tắt", "Object detection is off"),
                  "spool_quota": ("Bộ đệm ghi hình sắp đầy", "Recording spool over quota"),
                  "store_unavailable": ("Không kết nối được kho lưu trữ", "Object store unreachable")},
    }
    for prefix, words in expected.items():
        for code, (in_vi, in_en) in words.items():
            assert (translate_value(vi, prefix, code), translate_value(en, prefix, code)) == (in_vi, in_en)
    assert set(expected["kind"]) == set(EVENT_KINDS)
    assert set(expected["label"]) == set(OBJECT_LABELS + TAMPER_REASONS)
    assert translate_value(vi, "alert", "ups_on_battery") == "ups_on_battery"  # unknown codes show as they are
    assert translate_value(en, "label", "dog") == "dog"


def test_percent() -> None:
    assert format_percent(0.91) == "91%" and format_percent(1) == "100%" and format_percent(0.005) == "0%"
    assert format_percent(None) == "" and format_percent("0.9") == "" and format_percent(True) == ""


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
