"""API tokens for scripts: made, listed and revoked by their user; only their SHA-256 is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.audit import append_audit
from storage.errors import Conflict, NotFound
from storage.models import ApiToken, User, utcnow

TOKEN_PREFIX = "mt_"
SHOWN_PREFIX = 10  # characters kept in clear (mt_ + 7) so a listed token can be told apart from the others
NAME_MAX = 100
MAX_EXPIRES_DAYS = 3650
MAX_ACTIVE_TOKENS = 20  # per user: a forgotten loop that makes tokens stops here
# last_used_at is written at most this often, so a busy script does not turn every read into a write
LAST_USED_PRECISION = dt.timedelta(minutes=1)
_TOKEN_MAX = 200  # longer Authorization values are not ours; refused without hashing


def token_sha256(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def token_state(token: ApiToken, now: dt.datetime | None = None) -> str:
    """active | expired | revoked"""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def create_token(*, session: Session, user: User, name: str, expires_days: int | None) -> tuple[ApiToken, str]:
    """A new token for `user`; the plaintext is returned once and never stored."""
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise ValueError(f"the token needs a name of 1 to {NAME_MAX} characters (what the script is for)")
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRES_DAYS:
        raise ValueError(f"expires_days must be between 1 and {MAX_EXPIRES_DAYS}, or left out for no expiry")
    now = utcnow()
    active = session.scalar(select(func.count()).select_from(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
        (ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > now)))
    if (active or 0) >= MAX_ACTIVE_TOKENS:
        raise Conflict(f"you have {MAX_ACTIVE_TOKENS} active tokens already; revoke the ones no script uses")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_sha256=token_sha256(plaintext),
                     prefix=plaintext[:SHOWN_PREFIX], created_at=now,
                     expires_at=now + dt.timedelta(days=expires_days) if expires_days else None)  # fmt: skip
    session.add(token)
    session.flush()
    append_audit(session=session, actor=user.username, action="token.create", subject=f"user:{user.username}",
                 details={"token_id": token.id, "name": name,
                          "expires_at": token.expires_at.isoformat() if token.expires_at else None})  # fmt: skip
    return token, plaintext


def list_tokens(*, session: Session, user: User) -> list[ApiToken]:
    """The user's tokens, newest first, revoked and expired ones included (they show what existed)."""
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))  # fmt: skip


def revoke_token(*, session: Session, actor: User, token_id: int) -> ApiToken:
    """Revoke one of the actor's own tokens (an administrator: anyone's). Revoking twice changes nothing."""
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != actor.id and actor.role != "admin"):
        raise NotFound(f"you have no token {token_id}")  # someone else's token is not revealed to exist
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
        append_audit(session=session, actor=actor.username, action="token.revoke",
                     subject=f"user:{token.user.username}", details={"token_id": token.id, "name": token.name})
    return token


def authenticate_token(*, session: Session, plaintext: str) -> User | None:
    """The active user a valid token belongs to; None for an unknown, revoked or expired token or a disabled user."""
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > _TOKEN_MAX:
        return None
    # Looked up by its hash: the stored value is not the secret, so the comparison leaks nothing useful by timing.
    token = session.scalars(select(ApiToken).where(ApiToken.token_sha256 == token_sha256(plaintext))).first()
    now = utcnow()
    if token is None or token_state(token, now) != "active" or not token.user.active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        token.last_used_at = now
    return token.user
