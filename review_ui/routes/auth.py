"""Log-in and log-out pages, and the language toggle."""

from __future__ import annotations

import logging
import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from review_ui.deps import CsrfDep, CurrentUserDep, SessionDep
from review_ui.i18n import LANGUAGES
from review_ui.security import safe_next
from review_ui.session_login import client_address, end_login, keep_login_after_password_change, start_login
from review_ui.templating import render, set_flash
from storage.repo.users import LoginAttempt, attempt_login, change_password, get_user

logger = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


@router.get("/login", name="login_page")
def login_page(request: Request, session: SessionDep, next: str | None = None) -> Response:
    user_id = request.session.get("user_id")
    if isinstance(user_id, int) and (user := get_user(session=session, user_id=user_id)) is not None and user.active:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", user=None, next=safe_next(next), error=None, username="")


@router.post("/login")
def login_submit(
    request: Request,
    session: SessionDep,
    _csrf: CsrfDep,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    address = client_address(request)
    attempt = attempt_login(session=session, username=username.strip(), password=password, address=address) \
        if username else LoginAttempt(None)
    if attempt.retry_after_s:
        logger.warning("log-in for %r from %s refused: too many failures", username[:100], address)
        response = render(request, "login.html", user=None, status_code=429, next=safe_next(next),
                          error="too_many_logins", error_args={"minutes": math.ceil(attempt.retry_after_s / 60)},
                          username=username)  # fmt: skip
        response.headers["Retry-After"] = str(attempt.retry_after_s)
        return response
    user = attempt.user
    if user is None:
        logger.info("failed log-in for %r from %s", username[:100], address)
        return render(request, "login.html", user=None, status_code=401, next=safe_next(next),
                      error="wrong_credentials", username=username)
    start_login(request, session=session, user=user)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, _csrf: CsrfDep) -> Response:
    end_login(request)
    return RedirectResponse("/login", status_code=303)


@router.get("/lang/{code}", name="set_language")
def set_language(request: Request, code: str, next: str | None = None) -> Response:
    if code in LANGUAGES:
        request.session["lang"] = code
    return RedirectResponse(safe_next(next), status_code=303)


@router.get("/account/password", name="password_page")
def password_page(request: Request, user: CurrentUserDep) -> Response:
    return render(request, "password.html", user=user, errors=[])


@router.post("/account/password")
def password_submit(
    request: Request,
    session: SessionDep,
    user: CurrentUserDep,
    _csrf: CsrfDep,
    current_password: Annotated[str, Form(max_length=200)] = "",
    new_password: Annotated[str, Form(max_length=200)] = "",
    repeat_password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    error = None
    if new_password != repeat_password:
        error = "err_password_mismatch"
    else:
        try:
            change_password(session=session, user=user, current=current_password, new=new_password)
        except ValueError as exc:
            error = {"wrong": "err_password_wrong", "differ": "err_password_same"}.get(
                next((w for w in ("wrong", "differ") if w in str(exc)), ""), "err_password_short")
    if error:
        return render(request, "password.html", user=user, errors=[error], status_code=422)
    session.flush()
    keep_login_after_password_change(request, user)
    set_flash(request, "password_changed")
    return RedirectResponse("/events", status_code=303)
