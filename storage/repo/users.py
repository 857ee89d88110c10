"""User accounts with argon2 password hashes."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.audit import append_audit
from storage.errors import Conflict, NotFound
from storage.models import ApiToken, LoginFailure, User, utcnow

ROLES = ("admin", "duty", "investigator")
MIN_PASSWORD = 8
# Throttling: this many failures inside the window block the account name (or the address) until the oldest of
# them leaves the window, even for the right password. Counted in the database, so every web process agrees.
FAILURE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 50  # a whole police station may share one address
_hasher = PasswordHasher()


def create_user(*, session: Session, username: str, password: str, role: str, full_name: str = "",
                actor: str = "system") -> User:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    check_password_rules(password)
    if session.scalars(select(User).where(User.username == username)).first():
        raise Conflict(f"user {username!r} exists already")
    user = User(username=username, role=role, full_name=full_name, password_hash=_hasher.hash(password))
    session.add(user)
    session.flush()
    append_audit(session=session, actor=actor, action="user.create", subject=f"user:{username}",
                 details={"role": role})
    return user


def authenticate(*, session: Session, username: str, password: str) -> User | None:
    user = session.scalars(select(User).where(User.username == username, User.active.is_(True))).first()
    if user is None:
        _hasher.hash(password)  # spend the same time as a real check so user names cannot be probed by timing
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def get_user(*, session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def require_user(*, session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def list_users(*, session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password must have at least {MIN_PASSWORD} characters")


@dataclass(frozen=True)
class LoginAttempt:
    user: User | None
    retry_after_s: int = 0  # > 0: refused without checking the password; try again after this long


def _blocked_for(session: Session, column: object, value: str, limit: int, now: dt.datetime) -> int:
    recent = session.scalars(select(LoginFailure.at).where(column == value, LoginFailure.at > now - FAILURE_WINDOW)
                             .order_by(LoginFailure.at.desc()).limit(limit)).all()  # fmt: skip
    if len(recent) < limit:
        return 0
    return max(1, math.ceil((recent[-1] + FAILURE_WINDOW - now).total_seconds()))


def attempt_login(*, session: Session, username: str, password: str, address: str) -> LoginAttempt:
    """Check a log-in, throttled per account name and per client address; failures are recorded, a success clears
    the account's."""
    now = utcnow()
    wait = max(_blocked_for(session, LoginFailure.username, username, MAX_FAILURES_PER_USER, now),
               _blocked_for(session, LoginFailure.address, address, MAX_FAILURES_PER_ADDRESS, now))  # fmt: skip
    if wait:
        return LoginAttempt(None, wait)
    user = authenticate(session=session, username=username, password=password)
    if user is None:
        session.execute(delete(LoginFailure).where(LoginFailure.username == username,
                                                   LoginFailure.at < now - FAILURE_WINDOW))  # fmt: skip
        session.add(LoginFailure(username=username[:100], address=address[:64], at=now))
        session.flush()
    else:
        session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    return LoginAttempt(user)


def change_password(*, session: Session, user: User, current: str, new: str) -> None:
    """The user's own change: the current password must be right (a stolen session alone cannot take over)."""
    try:
        _hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise ValueError("the current password is wrong") from None
    check_password_rules(new)
    if new == current:
        raise ValueError("the new password must differ from the current one")
    user.password_hash = _hasher.hash(new)
    user.password_changed_at = utcnow()
    append_audit(session=session, actor=user.username, action="user.password", subject=f"user:{user.username}")


# --- administration (admin role; the web layer checks the role) ------------------------------------------------------

class UserRuleBroken(Conflict):
    """A change refused so that the service stays administrable or a login cannot be taken over; `code` names the
    rule: own_deactivate, own_demote, last_admin, own_password (the UI words each one)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def update_user(*, session: Session, user: User, actor: User, full_name: str | None = None, role: str | None = None,
                active: bool | None = None) -> dict[str, list[object]]:
    """Change name, role or active flag (None: leave as it is); returns what changed as {field: [old, new]}.

    Disabling ends the user's sessions and revokes their API tokens; neither comes back when re-enabled."""
    if role is not None and role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    changes: dict[str, list[object]] = {}
    if full_name is not None and full_name != user.full_name:
        changes["full_name"] = [user.full_name, full_name]
    if role is not None and role != user.role:
        changes["role"] = [user.role, role]
    if active is not None and active != user.active:
        changes["active"] = [user.active, active]
    if not changes:
        return changes
    new_role = role if role is not None else user.role
    new_active = active if active is not None else user.active
    if user.role == "admin" and user.active and (new_role != "admin" or not new_active):
        _check_admin_may_go(session, user=user, own=user.id == actor.id, demoted=new_role != "admin")
    if "full_name" in changes:
        user.full_name = full_name or ""
    if "role" in changes:
        user.role = new_role
    details: dict[str, object] = dict(changes)
    if "active" in changes:
        user.active = bool(active)
        if not active:
            # Also cut every session of theirs, so re-enabling the account later does not revive an old cookie.
            user.password_changed_at = utcnow()
            details["tokens_revoked"] = _revoke_all_tokens(session, user)
    session.flush()
    append_audit(session=session, actor=actor.username, action="user.update", subject=f"user:{user.username}",
                 details=details)
    return changes


def _check_admin_may_go(session: Session, *, user: User, own: bool, demoted: bool) -> None:
    if own and demoted:
        raise UserRuleBroken("own_demote", "you cannot remove your own administrator role; "
                                           "another administrator has to do it")
    if own:
        raise UserRuleBroken("own_deactivate", "you cannot disable your own account; "
                                               "another administrator has to do it")
    # Locking the active administrators' rows makes two administrators demoting each other at once take turns
    # (PostgreSQL; SQLite serialises writers anyway), so one of them always stays.
    admins = session.scalars(select(User.id).where(User.role == "admin", User.active.is_(True))
                             .with_for_update()).all()  # fmt: skip
    if not [admin_id for admin_id in admins if admin_id != user.id]:
        raise UserRuleBroken("last_admin", f"{user.username} is the last active administrator; "
                                           f"make another user administrator first")


def _revoke_all_tokens(session: Session, user: User) -> int:
    now = utcnow()
    tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))).all()
    for token in tokens:
        token.revoked_at = now
    return len(tokens)


def reset_password(*, session: Session, user: User, actor: User, new: str) -> None:
    """An administrator sets a new password for someone who lost theirs; every session of that user ends.

    Not for one's own account: that change asks for the current password (change_password), so a session left open
    on a shared computer cannot take the account over."""
    if user.id == actor.id:
        raise UserRuleBroken("own_password", "to change your own password use POST /api/auth/password "
                                             "(or the change password page): it asks for the current one")
    check_password_rules(new)
    user.password_hash = _hasher.hash(new)
    user.password_changed_at = utcnow()
    session.flush()
    append_audit(session=session, actor=actor.username, action="user.password_reset", subject=f"user:{user.username}")
