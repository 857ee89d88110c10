"""Local-time display and parsing: storage is UTC, people read and type times in the configured zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

DISPLAY_FORMAT = "%d/%m/%Y %H:%M:%S"
INPUT_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> expects as its value


def format_local(value: dt.datetime | None, tz: ZoneInfo) -> str:
    """dd/mm/yyyy HH:MM:SS in `tz`; empty for None."""
    if value is None:
        return ""
    return value.astimezone(tz).strftime(DISPLAY_FORMAT)


def format_day(value: dt.date | None) -> str:
    """dd/mm/yyyy, as every other date on the pages; empty for None. For calendar dates (funding, installation)."""
    return "" if value is None else value.strftime("%d/%m/%Y")


def format_input(value: dt.datetime | None, tz: ZoneInfo) -> str:
    return "" if value is None else value.astimezone(tz).strftime(INPUT_FORMAT)


def parse_local_input(text: str, tz: ZoneInfo) -> dt.datetime | None:
    """A datetime-local value ("2024-05-01T14:30" or with seconds) read in `tz`, returned as aware UTC.
    Empty text means no bound; anything else unreadable raises ValueError."""
    text = text.strip()
    if not text:
        return None
    if len(text) > 32:
        raise ValueError("time value is too long")
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(dt.UTC)


def format_duration(start: dt.datetime, end: dt.datetime | None) -> str:
    """H:MM:SS (or M:SS under an hour); empty while the event is still open."""
    if end is None:
        return ""
    seconds = max(0, round((end - start).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def decimal_mark(text: str, lang: str | None) -> str:
    """A number written with "." as the decimal mark, in the reader's convention: Vietnamese writes 4,3 (its "." groups
    thousands, as in 4.200.000 ₫)."""
    return text.replace(".", ",") if lang == "vi" else text


def format_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - loop always returns
