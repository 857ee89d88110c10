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
from storage.errors import Conflict
from storage.models import LoginFailure, User, utcnow

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
