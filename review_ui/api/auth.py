"""JSON log-in, log-out and "who am I"; the same signed session cookie as the pages."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from review_ui.deps import CurrentUserDep, PasswordLoginUserDep, SessionDep
from review_ui.schemas import WRITE_ERRORS, LoginIn, PasswordChangeIn, UserOut
from review_ui.session_login import client_address, end_login, keep_login_after_password_change, start_login
from storage.repo.users import attempt_login, change_password

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=UserOut, responses={415: WRITE_ERRORS[415]})
def login(body: LoginIn, request: Request, session: SessionDep) -> UserOut | JSONResponse:
    """Log in; the answer sets the session cookie used by every other call."""
    attempt = attempt_login(session=session, username=body.username, password=body.password,
                            address=client_address(request))  # fmt: skip
    if attempt.retry_after_s:
        return JSONResponse({"detail": f"too many failed log-ins for this account or address; try again in "
                                       f"{attempt.retry_after_s} s, or ask an administrator"},
                            status_code=429, headers={"Retry-After": str(attempt.retry_after_s)})  # fmt: skip
    user = attempt.user
    if user is None:
        return JSONResponse({"detail": "wrong username or password"}, status_code=401)
    start_login(request, session=session, user=user)
    return UserOut.model_validate(user)


@router.post("/logout", status_code=204, responses={415: WRITE_ERRORS[415]})
def logout(request: Request) -> Response:
    end_login(request)
    return Response(status_code=204)


@router.post("/password", status_code=204, responses=WRITE_ERRORS)
def password(body: PasswordChangeIn, request: Request, session: SessionDep, user: PasswordLoginUserDep) -> Response:
    """Change your own password (the current one is required). Every other session of yours is logged out. Needs a
    password log-in: an API token cannot change a password."""
    change_password(session=session, user=user, current=body.current_password, new=body.new_password)
    session.flush()
    keep_login_after_password_change(request, user)
    return Response(status_code=204)


@router.get("/me", response_model=UserOut)
def me(user: CurrentUserDep) -> UserOut:
    return UserOut.model_validate(user)
