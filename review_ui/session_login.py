"""Starting and ending a login in the signed session cookie (shared by the form and the JSON API)."""

from __future__ import annotations

import time

from fastapi import Request
from sqlalchemy.orm import Session

from storage.audit import append_audit
from storage.models import User


def start_login(request: Request, *, session: Session, user: User) -> None:
    # A fresh session at login (only the language survives), so nothing from before the login carries over.
    lang = request.session.get("lang")
    request.session.clear()
    if lang:
        request.session["lang"] = lang
    request.session["user_id"] = user.id
    request.session["login_at"] = time.time()
    append_audit(session=session, actor=user.username, action="auth.login", subject=f"user:{user.username}")


def client_address(request: Request) -> str:
    """The peer address (behind a reverse proxy, run uvicorn with --proxy-headers so this is the real client)."""
    return request.client.host if request.client else "unknown"


def end_login(request: Request) -> None:
    lang = request.session.get("lang")
    request.session.clear()
    if lang:
        request.session["lang"] = lang


def keep_login_after_password_change(request: Request, user: User) -> None:
    """The session that changed the password stays logged in; every other one ends (deps.get_current_user)."""
    assert user.password_changed_at is not None
    request.session["login_at"] = max(time.time(), user.password_changed_at.timestamp() + 0.001)
