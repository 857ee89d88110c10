"""Every string the review UI shows, Vietnamese first, English second; one dict per language.

The strings of each page or area live in a review_ui.i18n_<area> module; this one keeps those every page shares
(header, errors, API docs) and merges the rest into VI and EN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from review_ui.i18n_accounts import EN_ACCOUNTS, VI_ACCOUNTS
from review_ui.i18n_cameras import EN_CAMERAS, VI_CAMERAS
from review_ui.i18n_cases import EN_CASES, VI_CASES
from review_ui.i18n_events import EN_EVENTS, VI_EVENTS
from review_ui.i18n_footage import EN_FOOTAGE, VI_FOOTAGE
from review_ui.i18n_health import EN_HEALTH, VI_HEALTH
from review_ui.i18n_live import EN_LIVE, VI_LIVE

Language = Literal["vi", "en"]
LANGUAGES: tuple[Language, ...] = ("vi", "en")

VI: dict[str, str] = {
    "app_name": "Mắt Thần",
    "app_tagline": "Camera an ninh cộng đồng",
    "nav_events": "Sự kiện",
    "nav_cases": "Vụ việc",
    "nav_api": "API",
    "switch_language": "English",
    "switch_language_title": "Switch to English",
    "signed_in_as": "Đang đăng nhập",
    "error": "Lỗi",
    "error_not_found": "Không tìm thấy",
    "error_forbidden": "Không có quyền",
    "error_conflict": "Xung đột dữ liệu",
    "error_invalid": "Dữ liệu không hợp lệ",
    "error_unavailable": "Dịch vụ tạm thời không sẵn sàng",
    "error_server": "Lỗi hệ thống",
    "error_csrf": "Biểu mẫu đã hết hạn hoặc không hợp lệ. Hãy tải lại trang rồi thử lại.",
    "error_role": "Tài khoản của bạn không có quyền thực hiện thao tác này.",
    "error_page_missing": "Trang này không tồn tại.",
    "back_home": "Về trang sự kiện",
    "api_docs_title": "Tài liệu API",
    "api_docs_intro": "Tài liệu OpenAPI đầy đủ (JSON):",
    "parameters": "Tham số",
    "request_body": "Nội dung gửi",
    "responses": "Phản hồi",
}

EN: dict[str, str] = {
    "app_name": "Mắt Thần",
    "app_tagline": "Community security cameras",
    "nav_events": "Events",
    "nav_cases": "Cases",
    "nav_api": "API",
    "switch_language": "Tiếng Việt",
    "switch_language_title": "Chuyển sang tiếng Việt",
    "signed_in_as": "Signed in as",
    "error": "Error",
    "error_not_found": "Not found",
    "error_forbidden": "Not allowed",
    "error_conflict": "Conflict",
    "error_invalid": "Invalid input",
    "error_unavailable": "Temporarily unavailable",
    "error_server": "Server error",
    "error_csrf": "The form has expired or is not valid. Reload the page and try again.",
    "error_role": "Your account is not allowed to do this.",
    "error_page_missing": "This page does not exist.",
    "back_home": "Back to events",
    "api_docs_title": "API reference",
    "api_docs_intro": "The full OpenAPI document (JSON):",
    "parameters": "Parameters",
    "request_body": "Request body",
    "responses": "Responses",
}

for _vi, _en in ((VI_ACCOUNTS, EN_ACCOUNTS), (VI_EVENTS, EN_EVENTS), (VI_HEALTH, EN_HEALTH), (VI_CASES, EN_CASES),
                 (VI_FOOTAGE, EN_FOOTAGE), (VI_LIVE, EN_LIVE), (VI_CAMERAS, EN_CAMERAS)):
    for _into, _part in ((VI, _vi), (EN, _en)):
        if _twice := sorted(_into.keys() & _part.keys()):  # one would silently win: refuse at import
            raise RuntimeError(f"UI text keys defined in two i18n files: {', '.join(_twice)}")
        _into.update(_part)

MESSAGES: dict[Language, dict[str, str]] = {"vi": VI, "en": EN}


def normalize_language(value: object, default: Language) -> Language:
    return value if value in LANGUAGES else default  # type: ignore[return-value]


def translator(lang: Language) -> Callable[..., str]:
    """t("key", **fmt): the string in `lang`; a missing key shows itself, so a gap is visible, not a crash."""
    table = MESSAGES[lang]

    def t(key: str, **fmt: object) -> str:
        text = table.get(key, key)
        return text.format(**fmt) if fmt else text

    return t


def translate_value(t: Callable[..., str], prefix: str, value: str) -> str:
    """A stored code (event kind, clip status, role…) in words; unknown codes are shown as they are."""
    key = f"{prefix}_{value}"
    text = t(key)
    return value if text == key else text
