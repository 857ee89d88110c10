"""Every page in the reader's language: the tables agree, each code a page can be handed has words, the scripts take
their words from the page, and pages that used to show English (error pages, API docs, camera states) no longer do."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx

from ingest.errors import SourceError
from ingest.probe import PROBLEMS
from ingest.supervisor import NOT_RECORDING
from review_ui.i18n import EN, MESSAGES, VI
from storage.models import Camera

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "review_ui" / "static"


class _Text(HTMLParser):
    """The text a reader sees (no scripts or styles), one fragment per text node."""

    def __init__(self) -> None:
        super().__init__()
        self.fragments: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.fragments.append(" ".join(data.split()))


def _text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.fragments


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _camera_statuses() -> set[str]:
    """Every status a camera row can hold: the default, each SourceError's status, and the literal statuses the
    recorder reports and the supervisor stores (read from the code, so a new one cannot ship without words)."""
    statuses = {Camera.__table__.c.status.default.arg} | {sub.status for sub in _subclasses(SourceError)}
    for package in ("ingest", "storage", "matthan"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name == "_report" and node.args and isinstance(node.args[0], ast.Constant):
                    statuses.add(node.args[0].value)
                if name == "set_camera_status":
                    statuses |= {k.value.value for k in node.keywords
                                 if k.arg == "status" and isinstance(k.value, ast.Constant)}
    return statuses


def test_both_languages_take_the_same_fields() -> None:
    """t("key", **fields) formats the string: a field named in one language only fails on that language's page."""
    for key, text in VI.items():
        fields = {lang: sorted(set(re.findall(r"\{(\w*)\}", table[key]))) for lang, table in MESSAGES.items()}
        assert fields["vi"] == fields["en"], (key, text, EN[key])


def test_every_camera_status_has_words_where_pages_show_it() -> None:
    statuses = _camera_statuses()
    assert {"unknown", "connecting", "online", "offline", "auth_failed", "stopped"} <= statuses
    shown = {"camstatus": statuses, "status": statuses, "live_status": statuses - {"online"},
             "label": NOT_RECORDING}  # an offline period's event is labelled with the status that caused it
    for lang, table in MESSAGES.items():
        missing = sorted(f"{prefix}_{s}" for prefix, codes in shown.items() for s in codes
                         if f"{prefix}_{s}" not in table)
        assert not missing, f"{lang}: no words for {missing}"


def test_scripts_take_their_words_from_the_page(login, seed) -> None:
    """cameras.js and live.js hold no text of their own: each word they show is an element or data attribute that
    the server rendered in the reader's language."""
    admin = login("admin")
    form = admin.get("/admin/cameras/new").text
    on_page = set(re.findall(r'id="probe-msg-([a-z_-]+)"', form))
    script = (STATIC / "cameras.js").read_text(encoding="utf-8")
    asked = set(re.findall(r'words\("([a-z_-]+)"\)', script)) | set(PROBLEMS.values()) | {"unreachable"}
    assert len(asked) > 5 and asked <= on_page, asked - on_page

    live = admin.get("/live").text
    root = re.search(r'<div id="live"([^>]*)>', live, re.S)
    assert root is not None
    attributes = set(re.findall(r'data-([a-z-]+)="[^"]+"', root.group(1)))
    script = (STATIC / "live.js").read_text(encoding="utf-8")
    asked = set(re.findall(r"root\.dataset\.([a-zA-Z]+)", script))
    asked = {re.sub(r"[A-Z]", lambda m: "-" + m.group(0).lower(), name) for name in asked}
    # a refused live stream names its reason with the camera's status words (review_ui.live.errors)
    asked |= {"status-" + sub.status.replace("_", "-") for sub in _subclasses(SourceError)}
    assert asked <= attributes, asked - attributes


def _pages(seed) -> list[str]:
    events = [f"/events/{e.id}" for e in seed.events.values()]
    return ["/events", "/events?start=hôm+qua", *events, "/cases", "/footage?camera=cong-truong&day=2024-05-01&at=10:00",
            "/live", "/health", "/account/password", "/account/tokens", "/admin/cameras", "/admin/cameras/new",
            "/admin/cameras/cong-truong", "/admin/users", "/events/99999999"]


KEY_LIKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")


def test_no_page_shows_a_text_key(login, seed) -> None:
    """t() shows a missing key as itself, and tv() an unknown code: no snake_case word may stand alone on a page, in
    either language, except an alert code the UI has no words for (the banner names it as it is, by design)."""
    client = login("admin")
    as_is = {alert.code for alert in seed.alerts.values()}
    for lang in ("vi", "en"):
        client.get(f"/lang/{lang}")
        for path in _pages(seed):
            answer = client.get(path)
            assert answer.status_code in (200, 404), (path, answer.status_code)
            leaked = [f for f in _text(answer.text) if KEY_LIKE.fullmatch(f) and f not in as_is]
            assert not leaked, (lang, path, leaked)


def _error_page(answer: httpx.Response) -> tuple[str, str]:
    """(what the page tells the reader, the system's message folded under the technical detail)."""
    help_text = re.search(r'<p class="error-help" id="error-help">([^<]+)</p>', answer.text)
    detail = re.search(r'<details class="error-detail"><summary>([^<]+)</summary>'
                       r'<p class="error-message" id="error-message">([^<]+)</p></details>', answer.text)
    assert help_text and detail, answer.text
    return help_text.group(1), f"{detail.group(1)}: {detail.group(2)}"


def test_error_pages_say_what_to_do_in_the_readers_language(login, seed) -> None:
    duty = login("duty")
    missing = duty.get("/events/99999999")
    assert missing.status_code == 404
    assert _error_page(missing) == (VI["error_help_404"], "Chi tiết kỹ thuật: no event 99999999")
    refused = duty.get("/admin/cameras")
    assert refused.status_code == 403
    assert _error_page(refused)[0] == VI["error_help_403"] == (
        "Tài khoản của bạn không có quyền thực hiện thao tác này. Nếu công việc cần, hãy nhờ quản trị viên cấp quyền.")
    bad = duty.get("/footage/download", params={"camera": "cong-truong", "day": "2024-05-01", "from": "9h",
                                                "to": "10:00"})  # fmt: skip
    assert bad.status_code == 422 and VI["download_bad_time"] in bad.text  # the footage page again, saying why
    # messages that are the UI's own words stay as they are, with nothing folded
    unknown = duty.get("/no-such-page")
    assert unknown.status_code == 404 and "Trang này không tồn tại." in unknown.text and "error-detail" not in unknown.text

    duty.get("/lang/en")
    help_text, detail = _error_page(duty.get("/events/99999999"))
    assert help_text.startswith("This item was not found") and detail == "Technical detail: no event 99999999"


def test_formerly_english_words_are_vietnamese(login, seed) -> None:
    admin = login("admin")
    docs = _text(admin.get("/api/docs").text)
    assert "Cấu trúc dữ liệu" in docs and "Schemas" not in docs
    assert any(", bắt buộc)" in f for f in docs) and not any(", required)" in f for f in docs)
    tokens = " ".join(_text(admin.get("/account/tokens").text))
    assert "Mã API cho phần mềm kết nối" in tokens and "cript" not in tokens
    offline = " ".join(_text(admin.get(f"/events/{seed.events['gate_offline'].id}").text))
    assert "Chi tiết kỹ thuật camera 10.0.0.11 did not answer" in offline
    form = admin.get("/admin/cameras/new").text
    assert '<span id="probe-msg-invalid">Chưa kiểm tra được' in form  # was "Không lưu được camera:" for a test

    admin.get("/lang/en")
    docs = _text(admin.get("/api/docs").text)
    assert "Schemas" in docs and any(", required)" in f for f in docs)


def test_refusals_are_said_in_the_readers_language(login, seed) -> None:
    """What the store refuses (storage.errors.Sayable) reaches a form in the reader's words, not the store's English."""
    admin = login("admin")
    form = admin.get("/admin/cameras/new")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    taken = {"csrf_token": token, "code": "cong-truong", "name": "Cổng trường (trùng mã)",
             "main_url": "rtsp://127.0.0.1:1/nothing", "funding_source": "community", "retention_days": "30"}
    answer = admin.post("/admin/cameras", data=taken)
    assert answer.status_code == 409, re.findall(r'role="alert"[^>]*>(.*?)</p>', answer.text, re.S)
    assert "Đã có camera mang mã cong-truong" in answer.text and "exists already" not in answer.text
    admin.get("/lang/en")
    answer = admin.post("/admin/cameras", data=taken)
    assert answer.status_code == 409 and "A camera with code cong-truong exists already" in answer.text

    investigator = login("investigator")
    ev = seed.events["school_noon"]
    page = investigator.get(f"/events/{ev.id}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    made = investigator.post(f"/events/{ev.id}/evidence", data={"csrf_token": token, "new_case_title": "Vụ thử",
                                                                 "note": "một"})  # fmt: skip
    assert made.status_code == 303
    case_id = made.headers["location"].split("#")[0].rsplit("/", 1)[1]
    case_page = investigator.get(f"/cases/{case_id}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', case_page.text).group(1)  # type: ignore[union-attr]
    closed = investigator.post(f"/cases/{case_id}", data={"csrf_token": token, "title": "Vụ thử", "description": "",
                                                          "status": "closed", "assigned": "nobody"})  # fmt: skip
    assert closed.status_code == 422 and "Không có người dùng: nobody." in closed.text
    assert "no such user" not in closed.text
    closed = investigator.post(f"/cases/{case_id}", data={"csrf_token": token, "title": "Vụ thử", "description": "",
                                                          "status": "closed"})  # fmt: skip
    assert closed.status_code == 303
    evidence_id = made.headers["location"].rsplit("#evidence-", 1)[1]
    removed = investigator.post(f"/cases/{case_id}/evidence/{evidence_id}/remove",
                                data={"csrf_token": token, "reason": "nhầm"})  # fmt: skip
    assert removed.status_code == 409 and "đã đóng; mở lại vụ việc trước khi thay đổi chứng cứ" in removed.text
    assert "reopen it" not in removed.text
