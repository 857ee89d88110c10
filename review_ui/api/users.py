"""User administration as JSON (administrators only): list, create, change, disable, reset a password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from review_ui.const import USER_ADMIN_ROLES
from review_ui.deps import CurrentUserDep, PasswordLoginUserDep, SessionDep, UserId, require_role
from review_ui.schemas import WRITE_ERRORS, ErrorOut
from review_ui.schemas_users import PasswordResetIn, UserAdminOut, UserCreateIn, UserUpdateIn
from storage.models import User
from storage.repo.users import create_user, list_users, require_user, reset_password, update_user

router = APIRouter(prefix="/users", tags=["users"])


# Dependencies rather than a check inside each route, so a refused role gets its 403 before the body is even read.
def _admin(user: CurrentUserDep) -> User:
    require_role(user, USER_ADMIN_ROLES)
    return user


def _admin_by_password(user: PasswordLoginUserDep) -> User:
    require_role(user, USER_ADMIN_ROLES)
    return user


AdminDep = Annotated[User, Depends(_admin, scope="function")]
# Changing users needs a password log-in: a leaked script token must not be able to make itself an account.
AdminWriterDep = Annotated[User, Depends(_admin_by_password, scope="function")]
NO_USER = {404: {"model": ErrorOut, "description": "No such user"}}
RULE = {409: {"model": ErrorOut, "description": "Refused: one's own account, the last administrator, a taken name"}}


@router.get("", response_model=list[UserAdminOut], responses={403: WRITE_ERRORS[403]})
def users(session: SessionDep, admin: AdminDep) -> list[UserAdminOut]:
    return [UserAdminOut.model_validate(u) for u in list_users(session=session)]


@router.get("/{user_id}", response_model=UserAdminOut, responses={403: WRITE_ERRORS[403], **NO_USER})
def user(user_id: UserId, session: SessionDep, admin: AdminDep) -> UserAdminOut:
    return UserAdminOut.model_validate(require_user(session=session, user_id=user_id))


@router.post("", status_code=201, response_model=UserAdminOut, responses={**WRITE_ERRORS, **RULE})
def create(body: UserCreateIn, session: SessionDep, admin: AdminWriterDep) -> UserAdminOut:
    """Create a user who can log in at once with this password (tell them to change it)."""
    created = create_user(session=session, username=body.username, password=body.password, role=body.role,
                          full_name=body.full_name, actor=admin.username)  # fmt: skip
    session.refresh(created)
    return UserAdminOut.model_validate(created)


@router.patch("/{user_id}", response_model=UserAdminOut, responses={**WRITE_ERRORS, **NO_USER, **RULE})
def change(user_id: UserId, body: UserUpdateIn, session: SessionDep, admin: AdminWriterDep) -> UserAdminOut:
    """Change name, role or active. A new role applies to the user's next request; disabling ends their sessions
    and revokes their API tokens. Nobody can disable or demote themselves, nor the last active administrator."""
    target = require_user(session=session, user_id=user_id)
    update_user(session=session, user=target, actor=admin, full_name=body.full_name, role=body.role,
                active=body.active)  # fmt: skip
    return UserAdminOut.model_validate(target)


@router.post("/{user_id}/password", status_code=204, responses={**WRITE_ERRORS, **NO_USER, **RULE})
def reset(user_id: UserId, body: PasswordResetIn, session: SessionDep, admin: AdminWriterDep) -> Response:
    """Set a new password for a user who lost theirs; every session of theirs ends (their API tokens stay).
    Not for one's own account: POST /api/auth/password asks for the current password."""
    target = require_user(session=session, user_id=user_id)
    reset_password(session=session, user=target, actor=admin, new=body.new_password)
    return Response(status_code=204)
