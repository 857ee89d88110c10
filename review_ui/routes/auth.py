"""Log-in and log-out pages, and the language toggle."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from review_ui.deps import CsrfDep, SessionDep
from review_ui.i18n import LANGUAGES
from review_ui.security import safe_next
from review_ui.session_login import end_login, start_login
from review_ui.templating import render
from storage.repo.users import authenticate, get_user

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
    user = authenticate(session=session, username=username.strip(), password=password) if username else None
    if user is None:
        logger.info("failed log-in for %r from %s", username[:100], request.client.host if request.client else "?")
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
