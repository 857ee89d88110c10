"""The health banner on every logged-in page and GET /api/health/alerts: open alerts only, critical first, titled
in the reader's language."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from sqlalchemy import event

from review_ui.i18n import MESSAGES
from storage.repo import health
from storage.repo.health import raise_alert, resolve_alert

NODE = "xa-thuan-quy-1"


def _banner(html: str) -> list[tuple[str, str, str]]:
    """(code, level, visible text) of each alert in the banner, in page order."""
    section = re.search(r'<section class="health-banner" id="health-banner".*?</section>', html, re.S)
    if section is None:
        return []
    items = re.findall(r'<li class="health-alert level-[a-z]+" data-code="([^"]+)" data-level="([^"]+)">(.*?)</li>',
                       section.group(0), re.S)
    return [(code, level, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip()) for code, level, body in items]


def test_banner_on_every_logged_in_page(login, seed) -> None:
    client = login("duty")
    spool, detector = seed.alerts["spool"], seed.alerts["detector"]
    pages = ["/events", f"/events/{seed.events['market'].id}", "/cases", "/api/docs", "/events?kind=vehicle"]
    for path in pages:
        answer = client.get(path)
        assert answer.status_code == 200, path
        banner = _banner(answer.text)
        assert [(code, level) for code, level, _ in banner] == [
            ("spool_quota", "critical"), ("detector_unavailable", "warning"), ("ups_on_battery", "warning")], path
    banner = _banner(client.get("/events").text)
    # title, what to do in the reader's language, then the system's own message as the detail
    assert banner[0][2].startswith("Nghiêm trọng Bộ đệm ghi hình sắp đầy Không đoạn ghi nào bị xoá. Khôi phục kết nối "
                                   "tới kho lưu trữ hoặc cấp thêm dung lượng đĩa cho bộ đệm. Chi tiết kỹ thuật " + spool.message)
    assert banner[1][2].startswith("Cảnh báo Nhận dạng phương tiện/người đang tắt Vẫn phát hiện chuyển động, nhưng "
                                   "chưa nhận dạng xe máy, ô tô, người.")
    assert "detect.model_path rồi khởi động lại dịch vụ ghi hình. Chi tiết kỹ thuật " + detector.message in banner[1][2]
    assert NODE in banner[1][2] and "từ " in banner[1][2]
    # no words for it: the code itself, and no advice
    assert banner[2][2].startswith("Cảnh báo ups_on_battery Chi tiết kỹ thuật mains power lost")


def test_resolved_alert_is_not_shown(login, seed) -> None:
    html = login("duty").get("/events").text
    assert seed.alerts["store"].message not in html
    assert "Không kết nối được kho lưu trữ" not in html and 'data-code="store_unavailable"' not in html


def test_banner_titles_in_english(login, seed) -> None:
    client = login("investigator")
    client.get("/lang/en")
    banner = _banner(client.get("/cases").text)
    assert banner[0][2].startswith("Critical Recording spool over quota No footage is deleted. Restore the connection "
                                   "to the object store or give the spool more disk. Technical detail spool /var/spool")
    assert banner[1][2].startswith("Warning Object detection is off Motion events go on, but motorbikes, cars and "
                                   "people are not recognised.")
    assert 'class="health-alert level-critical"' in client.get("/cases").text


def test_no_banner_before_log_in(anonymous, seed) -> None:
    page = anonymous.get("/login")
    assert page.status_code == 200 and _banner(page.text) == [] and seed.alerts["spool"].message not in page.text


def test_banner_follows_raise_and_resolve(login, ui_db) -> None:
    client = login("duty")
    try:
        with ui_db.session() as session:
            raise_alert(session=session, code="store_unavailable", level="warning", node="xa-thuan-quy-2",
                        message="the object store does not answer; segments wait in the spool")
        banner = _banner(client.get("/events").text)
        assert ("store_unavailable", "warning") in [(code, level) for code, level, _ in banner]
        assert any(text.startswith("Cảnh báo Không kết nối được kho lưu trữ") for _, _, text in banner)
    finally:
        with ui_db.session() as session:
            resolve_alert(session=session, code="store_unavailable", node="xa-thuan-quy-2")
    assert "store_unavailable" not in [code for code, _, _ in _banner(client.get("/events").text)]


def test_banner_costs_one_query(login, ui_db) -> None:
    client = login("duty")
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(ui_db.engine, "before_cursor_execute", record)
    try:
        assert client.get("/cases").status_code == 200
    finally:
        event.remove(ui_db.engine, "before_cursor_execute", record)
    assert len([s for s in statements if "FROM health_alert" in s]) == 1


def test_api_health_alerts(login, anonymous, seed) -> None:
    assert anonymous.get("/api/health/alerts").status_code == 401
    answer = login("duty").get("/api/health/alerts")
    assert answer.status_code == 200
    body = answer.json()
    assert [a["code"] for a in body] == ["spool_quota", "detector_unavailable", "ups_on_battery"]  # oldest first
    spool = body[0]
    assert set(spool) == {"code", "level", "node", "message", "raised_at"}
    assert spool["level"] == "critical" and spool["node"] == NODE and spool["message"] == seed.alerts["spool"].message
    assert spool["raised_at"].endswith("Z")
    assert "store_unavailable" not in {a["code"] for a in body}


def test_every_alert_the_system_raises_has_words_and_advice_in_both_languages() -> None:
    """Reads every raise_alert(...) call in the code: a new alert code needs a title and what-to-do in VI and EN."""
    root = Path(__file__).resolve().parents[2]
    codes = set()
    for package in ("matthan", "ingest", "detect", "storage", "review_ui"):
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "raise_alert":
                    code = next(k.value for k in node.keywords if k.arg == "code")
                    codes.add(code.value if isinstance(code, ast.Constant) else getattr(health, code.id))
    assert {"camera_offline", "detector_unavailable", "spool_quota", "store_unavailable"} <= codes
    for lang, table in MESSAGES.items():
        missing = [f"{prefix}_{code}" for code in sorted(codes) for prefix in ("alert", "alert_do")
                   if f"{prefix}_{code}" not in table]
        assert not missing, f"{lang}: no words for {missing}"
