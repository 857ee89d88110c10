"""Dependencies (Annotated aliases) and the one place where errors become HTTP answers.

    LoginRequired            → 401 JSON under /api and /media, else a redirect to /login?next=…
    TokenInvalid             → 401 with WWW-Authenticate: Bearer (a bad API token)
    Forbidden, CsrfFailed    → 403
    UnsupportedMediaType     → 415 (API writes must send Content-Type: application/json)
    storage NotFound         → 404
    storage Conflict         → 409
    ObjectStoreUnavailable,
    DatabaseUnavailable      → 503 with what to do
    live StreamUnavailable   → 503 (camera unreachable) or 502 (it refused: password, codec), with the reason
    ValueError (validation),
    RequestValidationError   → 422 with a readable message (input values are never echoed back)
    other StorageError       → 500 with the storage message
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import quote

import pydantic
from fastapi import Depends, FastAPI, Form, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError as SADataError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from config import Settings
from review_ui.i18n import translator
from review_ui.live.errors import StreamUnavailable
from review_ui.security import csrf_valid
from review_ui.templating import page_language, render
from storage.errors import Conflict, DatabaseUnavailable, NotFound, ObjectStoreUnavailable, StorageError
from storage.models import User
from storage.objectstore import ObjectStore
from storage.repo.tokens import authenticate_token
from storage.repo.users import get_user

logger = logging.getLogger(__name__)


class LoginRequired(Exception):
    """No valid login in the session."""


class TokenInvalid(LoginRequired):
    """An Authorization: Bearer token that is unknown, revoked, expired, or whose user is disabled."""


class Forbidden(Exception):
    """Logged in, but the role may not do this."""


class CsrfFailed(Exception):
    """A form POST without the session's CSRF token."""


class UnsupportedMediaType(Exception):
    """An API write that is not JSON."""


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> ObjectStore:
    return request.app.state.store


def get_db_session(request: Request) -> Iterator[Session]:
    # scope="function" below: the transaction commits before the answer goes out, so a redirect never races it
    # and a failing commit still becomes a proper HTTP error.
    with request.app.state.db.session() as session:
        yield session


def get_current_user(request: Request, session: Annotated[Session, Depends(get_db_session, scope="function")]) -> User:
    authorization = request.headers.get("authorization")
    if authorization is not None and (_is_api(request) or request.url.path.startswith("/media/")
                                      or request.url.path == "/metrics"):
        return _token_user(request, session, authorization)
    user_id, login_at = request.session.get("user_id"), request.session.get("login_at")
    if not isinstance(user_id, int) or not isinstance(login_at, (int, float)):
        raise LoginRequired()
    # The cookie's own max_age renews on every answer; this caps a login's total length.
    if time.time() - login_at > request.app.state.settings.web.session_hours * 3600:
        request.session.pop("user_id", None)
        raise LoginRequired()
    user = get_user(session=session, user_id=user_id)
    if user is None or not user.active or (
            user.password_changed_at is not None and login_at < user.password_changed_at.timestamp()):
        request.session.pop("user_id", None)  # disabled, or the password changed since this login
        raise LoginRequired()
    return user


def _token_user(request: Request, session: Session, authorization: str) -> User:
    # A script's call: no cookie is involved, so nothing here is open to cross-site requests.
    scheme, _, token = authorization.partition(" ")
    user = authenticate_token(session=session, plaintext=token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        raise TokenInvalid()
    request.state.api_token = True
    return user


def get_password_login_user(request: Request,
                            user: Annotated[User, Depends(get_current_user, scope="function")]) -> User:
    """The user of a password log-in (session cookie): a leaked API token must not be able to mint more tokens,
    change a password or manage users."""
    if getattr(request.state, "api_token", False):
        raise Forbidden("an API token may not do this: log in with your password (POST /api/auth/login or the "
                        "log-in page) and do it in that session")
    return user


def check_csrf(request: Request, csrf_token: Annotated[str | None, Form(max_length=200)] = None) -> None:
    if not csrf_valid(request.session, csrf_token):
        raise CsrfFailed()


def require_json_writes(request: Request) -> None:
    """Cross-site HTML forms cannot send application/json, so requiring it on writes blocks CSRF on the API."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType()


def require_role(user: User, roles: tuple[str, ...]) -> None:
    if user.role not in roles:
        raise Forbidden(f"role {user.role!r} may not do this; it needs one of: {', '.join(roles)}")


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[ObjectStore, Depends(get_store)]
SessionDep = Annotated[Session, Depends(get_db_session, scope="function")]
CurrentUserDep = Annotated[User, Depends(get_current_user, scope="function")]
PasswordLoginUserDep = Annotated[User, Depends(get_password_login_user, scope="function")]
CsrfDep = Annotated[None, Depends(check_csrf)]
# Row ids in paths: bounded to what the database can hold (an oversized number is a 422, not a database error)
# (events are BIGINT rows; cases, users, tokens and evidence items INTEGER: PostgreSQL refuses more than 2**31 - 1)
EventId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Event id")]
CaseId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Case id")]
UserId = Annotated[int, Path(ge=1, le=2**31 - 1, description="User id")]
TokenId = Annotated[int, Path(ge=1, le=2**31 - 1, description="API token id")]
EvidenceId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Evidence item id")]


# --- errors → HTTP -------------------------------------------------------------------------------------------------

def _is_api(request: Request) -> bool:
    return request.url.path == "/api" or request.url.path.startswith("/api/")


def _is_plain(request: Request) -> bool:
    """Answers for programs, not pages: media files and Prometheus metrics."""
    return request.url.path.startswith("/media/") or request.url.path == "/metrics"


def _answer(request: Request, status: int, detail: str, *, title_key: str, headers: dict[str, str] | None = None,
            extra: dict[str, Any] | None = None, said: bool = False) -> Response:
    """`said`: `detail` is already in the reader's words (a page shows it as it is, not as a technical detail)."""
    if _is_api(request):
        return JSONResponse({"detail": detail, **(extra or {})}, status_code=status, headers=headers)
    if _is_plain(request):
        return PlainTextResponse(detail, status_code=status, headers=headers)
    response = render(request, "error.html", user=None, status_code=status, status=status, title_key=title_key,
                      message=detail, said=said)
    response.headers.update(headers or {})
    return response


def _login_required(request: Request, exc: Exception) -> Response:
    if isinstance(exc, TokenInvalid):
        return _answer(request, 401, "the API token is not valid: it is unknown, revoked or expired, or its user is "
                                     "disabled. Make a new one on the page /account/tokens (or POST /api/auth/tokens "
                                     "after logging in) and send it as Authorization: Bearer mt_…",
                       title_key="login", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if _is_api(request) or _is_plain(request):
        return _answer(request, 401, "not logged in: POST /api/auth/login first, or send an API token as "
                                     "Authorization: Bearer mt_…", title_key="login")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _forbidden(request: Request, exc: Exception) -> Response:
    return _answer(request, 403, str(exc) or "not allowed", title_key="error_forbidden")


def _csrf_failed(request: Request, exc: Exception) -> Response:
    return _answer(request, 403, translator(page_language(request))("error_csrf"), title_key="error_forbidden",
                   said=True)


def _unsupported(request: Request, exc: Exception) -> Response:
    return _answer(request, 415, "send the body as JSON with Content-Type: application/json", title_key="error_invalid")


def _not_found(request: Request, exc: Exception) -> Response:
    return _answer(request, 404, str(exc), title_key="error_not_found")


def _conflict(request: Request, exc: Exception) -> Response:
    return _answer(request, 409, str(exc), title_key="error_conflict")


def _unavailable(request: Request, exc: Exception) -> Response:
    logger.warning("storage unavailable on %s: %s", request.url.path, exc)
    what = "object store" if isinstance(exc, ObjectStoreUnavailable) else "database"
    detail = (f"the {what} cannot be reached right now ({exc}). Try again in a minute; if it persists, "
              f"ask the administrator to check that the {what} is running and reachable.")
    return _answer(request, 503, detail, title_key="error_unavailable", headers={"Retry-After": "30"})


def _stream_unavailable(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StreamUnavailable)
    headers = {"Retry-After": "10"} if exc.http_status == 503 else None
    return _answer(request, exc.http_status, exc.detail, title_key="error_unavailable", headers=headers,
                   extra={"reason": exc.reason})


def _data_error(request: Request, exc: Exception) -> Response:
    # The database refused a value the request carried: a number beyond its column, a NUL character in a text
    # (PostgreSQL keeps no NUL in text). The caller's input, so 422, never a 500.
    logger.info("database refused a value on %s: %s", request.url.path, getattr(exc, "orig", exc))
    return _answer(request, 422, "a value in the request cannot be stored or searched for: a number too large, or a "
                                 "NUL character in a text; correct the request", title_key="error_invalid")


def _storage_error(request: Request, exc: Exception) -> Response:
    logger.error("storage error on %s: %s", request.url.path, exc)
    return _answer(request, 500, str(exc), title_key="error_server")


def _value_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, pydantic.ValidationError):
        # A model we build ourselves failed: our bug, not the caller's input.
        logger.exception("internal validation error on %s", request.url.path, exc_info=exc)
        return _answer(request, 500, "internal error; see the server log", title_key="error_server")
    return _answer(request, 422, str(exc), title_key="error_invalid")


def describe_errors(errors: Any) -> tuple[str, list[dict[str, Any]]]:
    """A one-line summary and a trimmed error list (no `input`: it may hold a password)."""
    items, parts = [], []
    for err in errors:
        loc = [p for p in err.get("loc", ()) if p != "body"]
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        items.append({"loc": list(err.get("loc", ())), "msg": msg, "type": err.get("type", "")})
        where = ".".join(str(p) for p in loc)
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts) or "invalid request", items


def _request_invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    summary, items = describe_errors(exc.errors())
    return _answer(request, 422, summary, title_key="error_invalid", extra={"errors": items})


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    said = exc.status_code == 404 and not _is_api(request)
    detail = translator(page_language(request))("error_page_missing") if said else str(exc.detail)
    title = {404: "error_not_found", 403: "error_forbidden", 405: "error_invalid"}.get(exc.status_code, "error")
    return _answer(request, exc.status_code, detail, title_key=title, headers=getattr(exc, "headers", None), said=said)


def install_error_handlers(app: FastAPI) -> None:
    handlers: list[tuple[type[Exception], Any]] = [
        (LoginRequired, _login_required),
        (Forbidden, _forbidden),
        (CsrfFailed, _csrf_failed),
        (UnsupportedMediaType, _unsupported),
        (NotFound, _not_found),
        (Conflict, _conflict),
        (ObjectStoreUnavailable, _unavailable),
        (DatabaseUnavailable, _unavailable),
        (StorageError, _storage_error),
        (SADataError, _data_error),
        (StreamUnavailable, _stream_unavailable),
        (ValueError, _value_error),
        (RequestValidationError, _request_invalid),
        (StarletteHTTPException, _http_error),
    ]
    for exc_class, handler in handlers:
        app.add_exception_handler(exc_class, handler)
