"""User administration pages (administrators only): the list with a create form, one user's edit page."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from review_ui.const import USER_ADMIN_ROLES
from review_ui.deps import CsrfDep, CurrentUserDep, SessionDep, UserId, require_role
from review_ui.schemas_users import USERNAME_PATTERN
from review_ui.templating import render, set_flash
from storage.errors import Conflict
from storage.models import User
from storage.repo.tokens import list_tokens, token_state
from storage.repo.users import (
    MIN_PASSWORD, ROLES, UserRuleBroken, create_user, list_users, require_user, reset_password, update_user,
)

router = APIRouter(include_in_schema=False)
Field100 = Annotated[str, Form(max_length=100)]
Field200 = Annotated[str, Form(max_length=200)]


def _user_page(request: Request, session: SessionDep, admin: User, target: User, *, errors: list[str],
               status_code: int = 200) -> Response:  # fmt: skip
    return render(request, "user.html", user=admin, target=target, roles=ROLES, errors=errors, status_code=status_code,
                  tokens=list_tokens(session=session, user=target), token_state=token_state)  # fmt: skip


def _password_error(password: str, repeat: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return "err_password_short"
    return "err_password_mismatch" if password != repeat else None


@router.get("/admin/users", name="users_page")
def users_page(request: Request, session: SessionDep, user: CurrentUserDep) -> Response:
    require_role(user, USER_ADMIN_ROLES)
    return render(request, "users.html", user=user, users=list_users(session=session), roles=ROLES, errors=[],
                  form={})  # fmt: skip


@router.post("/admin/users")
def users_create(
    request: Request,
    session: SessionDep,
    user: CurrentUserDep,
    _csrf: CsrfDep,
    username: Field100 = "",
    full_name: Field200 = "",
    role: Annotated[str, Form(max_length=20)] = "",
    password: Field200 = "",
    repeat_password: Field200 = "",
) -> Response:
    require_role(user, USER_ADMIN_ROLES)
    username, full_name = username.strip(), full_name.strip()
    errors = []
    if not re.fullmatch(USERNAME_PATTERN, username):
        errors.append("err_username")
    if role not in ROLES:
        errors.append("err_role")
    if (password_error := _password_error(password, repeat_password)) is not None:
        errors.append(password_error)
    if not errors:
        try:
            created = create_user(session=session, username=username, password=password, role=role,
                                  full_name=full_name, actor=user.username)  # fmt: skip
        except Conflict:
            errors.append("err_username_taken")
        else:
            set_flash(request, "user_created", username=created.username)
            return RedirectResponse(f"/admin/users/{created.id}", status_code=303)
    return render(request, "users.html", user=user, users=list_users(session=session), roles=ROLES, errors=errors,
                  form={"username": username, "full_name": full_name, "role": role}, status_code=422)  # fmt: skip


@router.get("/admin/users/{user_id}", name="user_page")
def user_page(request: Request, user_id: UserId, session: SessionDep, user: CurrentUserDep) -> Response:
    require_role(user, USER_ADMIN_ROLES)
    return _user_page(request, session, user, require_user(session=session, user_id=user_id), errors=[])


@router.post("/admin/users/{user_id}")
def user_update(
    request: Request,
    user_id: UserId,
    session: SessionDep,
    user: CurrentUserDep,
    _csrf: CsrfDep,
    full_name: Field200 = "",
    role: Annotated[str, Form(max_length=20)] = "",
    active: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    require_role(user, USER_ADMIN_ROLES)
    target = require_user(session=session, user_id=user_id)
    if role not in ROLES:
        return _user_page(request, session, user, target, errors=["err_role"], status_code=422)
    try:
        # an unticked checkbox sends nothing: the form always means "active" or "not active"
        update_user(session=session, user=target, actor=user, full_name=full_name.strip(), role=role,
                    active=active == "on")  # fmt: skip
    except UserRuleBroken as exc:  # refused before anything changed
        return _user_page(request, session, user, target, errors=[f"err_{exc.code}"], status_code=409)
    set_flash(request, "user_updated", username=target.username)
    return RedirectResponse(f"/admin/users/{target.id}", status_code=303)


@router.post("/admin/users/{user_id}/password")
def user_password_reset(
    request: Request,
    user_id: UserId,
    session: SessionDep,
    user: CurrentUserDep,
    _csrf: CsrfDep,
    new_password: Field200 = "",
    repeat_password: Field200 = "",
) -> Response:
    require_role(user, USER_ADMIN_ROLES)
    target = require_user(session=session, user_id=user_id)
    error = _password_error(new_password, repeat_password)
    if error is None:
        try:
            reset_password(session=session, user=target, actor=user, new=new_password)
        except UserRuleBroken as exc:
            error = f"err_{exc.code}"
    if error is not None:
        return _user_page(request, session, user, target, errors=[error], status_code=409 if error == "err_own_password"
                          else 422)  # fmt: skip
    set_flash(request, "password_reset_done", username=target.username)
    return RedirectResponse(f"/admin/users/{target.id}", status_code=303)
