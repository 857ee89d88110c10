"""JSON log-in, log-out and "who am I"; the same signed session cookie as the pages."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from review_ui.deps import CurrentUserDep, SessionDep
from review_ui.schemas import WRITE_ERRORS, LoginIn, UserOut
from review_ui.session_login import end_login, start_login
from storage.repo.users import authenticate

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=UserOut, responses={415: WRITE_ERRORS[415]})
def login(body: LoginIn, request: Request, session: SessionDep) -> UserOut | JSONResponse:
    """Log in; the answer sets the session cookie used by every other call."""
    user = authenticate(session=session, username=body.username, password=body.password)
    if user is None:
        return JSONResponse({"detail": "wrong username or password"}, status_code=401)
    start_login(request, session=session, user=user)
    return UserOut.model_validate(user)


@router.post("/logout", status_code=204, responses={415: WRITE_ERRORS[415]})
def logout(request: Request) -> Response:
    end_login(request)
    return Response(status_code=204)


@router.get("/me", response_model=UserOut)
def me(user: CurrentUserDep) -> UserOut:
    return UserOut.model_validate(user)
