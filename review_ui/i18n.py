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
    # what an error page tells the reader, by HTTP status; the system's own (English) message is the detail
    "error_help": "Không thực hiện được yêu cầu. Hãy quay lại và thử lại; nếu vẫn lỗi, báo quản trị viên kèm chi tiết "
                  "kỹ thuật dưới đây.",
    "error_help_401": "Phiên đăng nhập hoặc mã API không còn hiệu lực. Hãy đăng nhập lại.",
    "error_help_403": "Tài khoản của bạn không có quyền thực hiện thao tác này. Nếu công việc cần, hãy nhờ quản trị "
                      "viên cấp quyền.",
    "error_help_404": "Không tìm thấy mục này: đường dẫn có thể sai, hoặc mục đó không còn. Hãy quay lại danh sách và "
                      "chọn lại.",
    "error_help_409": "Không thực hiện được vì mâu thuẫn với dữ liệu đã lưu (ví dụ vụ việc đã đóng, hoặc đã có từ "
                      "trước). Hãy tải lại trang để xem tình trạng mới nhất.",
    "error_help_422": "Thông tin gửi lên chưa hợp lệ. Hãy quay lại, sửa rồi gửi lại.",
    "error_help_500": "Hệ thống gặp lỗi khi xử lý yêu cầu. Hãy thử lại; nếu vẫn lỗi, báo quản trị viên kèm chi tiết "
                      "kỹ thuật dưới đây.",
    "error_help_503": "Hệ thống tạm thời không kết nối được tới cơ sở dữ liệu hoặc kho lưu trữ. Hãy thử lại sau ít "
                      "phút; nếu vẫn lỗi, báo quản trị viên.",
    "api_docs_title": "Tài liệu API",
    "api_docs_intro": "Tài liệu OpenAPI đầy đủ (JSON):",
    "parameters": "Tham số",
    "request_body": "Nội dung gửi",
    "responses": "Phản hồi",
    "schemas": "Cấu trúc dữ liệu",
    "required": "bắt buộc",
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
    "error_help": "The request could not be carried out. Go back and try again; if it keeps failing, tell the "
                  "administrator and include the technical detail below.",
    "error_help_401": "Your log-in or API token is no longer valid. Log in again.",
    "error_help_403": "Your account is not allowed to do this. If your work needs it, ask an administrator for the "
                      "right role.",
    "error_help_404": "This item was not found: the link may be wrong, or the item no longer exists. Go back to the "
                      "list and choose again.",
    "error_help_409": "This could not be done because it contradicts what is stored (for example, the case is closed, "
                      "or it exists already). Reload the page to see the current state.",
    "error_help_422": "Something that was sent is not valid. Go back, correct it and send it again.",
    "error_help_500": "The system failed while handling the request. Try again; if it keeps failing, tell the "
                      "administrator and include the technical detail below.",
    "error_help_503": "The system cannot reach its database or object store right now. Try again in a few minutes; "
                      "if it persists, tell the administrator.",
    "api_docs_title": "API reference",
    "api_docs_intro": "The full OpenAPI document (JSON):",
    "parameters": "Parameters",
    "request_body": "Request body",
    "responses": "Responses",
    "schemas": "Schemas",
    "required": "required",
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


def say(t: Callable[..., str], exc: Exception) -> str:
    """An error in the reader's words when it names a UI text (storage.errors.Sayable), else its own message."""
    key = getattr(exc, "key", None)
    if key and t(key) != key:
        return t(key, **getattr(exc, "params", {}))
    return str(exc)
