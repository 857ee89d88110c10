"""The API tokens page: make one (shown once), list and revoke one's own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from review_ui.deps import CsrfDep, CurrentUserDep, SessionDep, TokenId
from review_ui.security import safe_next
from review_ui.templating import render, set_flash
from storage.errors import Conflict
from storage.models import User
from storage.repo.tokens import MAX_EXPIRES_DAYS, NAME_MAX, create_token, list_tokens, revoke_token, token_state

router = APIRouter(include_in_schema=False)


def _tokens_page(request: Request, session: SessionDep, user: User, *, errors: list[str], created: str | None = None,
                 status_code: int = 200) -> Response:  # fmt: skip
    response = render(request, "tokens.html", user=user, tokens=list_tokens(session=session, user=user), errors=errors,
                      created=created, max_days=MAX_EXPIRES_DAYS, name_max=NAME_MAX, token_state=token_state,
                      status_code=status_code)
    if created:
        response.headers["Cache-Control"] = "no-store"  # the one page holding the token: keep it out of every cache
    return response


@router.get("/account/tokens", name="tokens_page")
def tokens_page(request: Request, session: SessionDep, user: CurrentUserDep) -> Response:
    return _tokens_page(request, session, user, errors=[])


@router.post("/account/tokens")
def tokens_create(
    request: Request,
    session: SessionDep,
    user: CurrentUserDep,
    _csrf: CsrfDep,
    name: Annotated[str, Form(max_length=NAME_MAX)] = "",
    expires_days: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    errors = []
    days: int | None = None
    if not name.strip():
        errors.append("err_token_name")
    if expires_days.strip():
        days = int(expires_days) if expires_days.strip().isdigit() else 0
        if not 1 <= days <= MAX_EXPIRES_DAYS:
            errors.append("err_token_days")
    if errors:
        return _tokens_page(request, session, user, errors=errors, status_code=422)
    try:
        _token, plaintext = create_token(session=session, user=user, name=name, expires_days=days)
    except Conflict:
        return _tokens_page(request, session, user, errors=["err_too_many_tokens"], status_code=409)
    # Shown in this answer only (not through a redirect and the session cookie, where it would linger)
    return _tokens_page(request, session, user, errors=[], created=plaintext, status_code=201)


@router.post("/account/tokens/{token_id}/revoke")
def tokens_revoke(
    request: Request,
    token_id: TokenId,
    session: SessionDep,
    user: CurrentUserDep,
    _csrf: CsrfDep,
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    token = revoke_token(session=session, actor=user, token_id=token_id)
    set_flash(request, "token_revoked", name=token.name)
    return RedirectResponse(safe_next(next, default="/account/tokens"), status_code=303)
