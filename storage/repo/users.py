"""User accounts with argon2 password hashes."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.audit import append_audit
from storage.errors import Conflict
from storage.models import User

ROLES = ("admin", "duty", "investigator")
_hasher = PasswordHasher()


def create_user(*, session: Session, username: str, password: str, role: str, full_name: str = "",
                actor: str = "system") -> User:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")
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
