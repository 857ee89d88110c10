"""API tokens as JSON: list, make (shown once) and revoke one's own; any logged-in role."""

from __future__ import annotations

from fastapi import APIRouter

from review_ui.deps import CurrentUserDep, PasswordLoginUserDep, SessionDep, TokenId
from review_ui.schemas import WRITE_ERRORS, ErrorOut
from review_ui.schemas_users import TokenCreatedOut, TokenCreateIn, TokenOut
from storage.repo.tokens import create_token, list_tokens, revoke_token

router = APIRouter(prefix="/auth/tokens", tags=["auth"])


@router.get("", response_model=list[TokenOut])
def tokens(session: SessionDep, user: CurrentUserDep) -> list[TokenOut]:
    """Your tokens, newest first (revoked and expired ones too); never the tokens themselves."""
    return [TokenOut.from_token(t) for t in list_tokens(session=session, user=user)]


@router.post("", status_code=201, response_model=TokenCreatedOut, responses={
    **WRITE_ERRORS, 409: {"model": ErrorOut, "description": "Too many active tokens"}})
def make_token(body: TokenCreateIn, session: SessionDep, user: PasswordLoginUserDep) -> TokenCreatedOut:
    """Make a token for a script: it acts as you, with your role, until it expires or is revoked. The answer is the
    only time the token is shown. Needs a password log-in (a token cannot make tokens)."""
    token, plaintext = create_token(session=session, user=user, name=body.name, expires_days=body.expires_days)
    return TokenCreatedOut(**TokenOut.from_token(token).model_dump(), token=plaintext)


@router.post("/{token_id}/revoke", response_model=TokenOut, responses={
    **WRITE_ERRORS, 404: {"model": ErrorOut, "description": "You have no such token"}})
def revoke(token_id: TokenId, session: SessionDep, user: CurrentUserDep) -> TokenOut:
    """Revoke one of your tokens (administrators: anyone's); it stops working at once. A script may revoke its own."""
    return TokenOut.from_token(revoke_token(session=session, actor=user, token_id=token_id))
