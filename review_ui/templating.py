"""Jinja2 set-up and the one render() every page goes through (language, user, CSRF token, flash message)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from sqlalchemy.orm import object_session

from config import Settings
from review_ui.i18n import Language, normalize_language, translate_value, translator
from review_ui.security import csrf_token
from review_ui.timefmt import decimal_mark, format_bytes, format_day, format_duration, format_input, format_local
from storage.models import HealthAlert, User
from storage.repo.health import open_alerts

TEMPLATES_DIR = Path(__file__).with_name("templates")
STATIC_DIR = Path(__file__).with_name("static")


def make_templates(settings: Settings) -> Jinja2Templates:
    tz = ZoneInfo(settings.web.timezone)
    templates = Jinja2Templates(directory=TEMPLATES_DIR)
    env = templates.env
    env.filters["localtime"] = lambda value: format_local(value, tz)
    env.filters["inputtime"] = lambda value: format_input(value, tz)
    env.filters["filesize"] = _filesize
    env.filters["number"] = _number
    env.filters["day"] = format_day
    env.filters["percent"] = format_percent
    env.globals["duration"] = format_duration
    env.globals["timezone_name"] = settings.web.timezone
    return templates


def page_language(request: Request) -> Language:
    return normalize_language(request.session.get("lang"), request.app.state.settings.web.default_language)


@pass_context
def _filesize(context: Context, size: int) -> str:
    return decimal_mark(format_bytes(size), context.get("lang"))


@pass_context
def _number(context: Context, value: float, digits: int = 1) -> str:
    return decimal_mark(f"{value:.{digits}f}", context.get("lang"))


def format_percent(score: object) -> str:
    """A detector score (0..1) as a whole percentage; empty when there is none."""
    return f"{round(score * 100)}%" if isinstance(score, (int, float)) and not isinstance(score, bool) else ""


def health_alerts(user: User | None) -> list[HealthAlert]:
    """The node's open alerts for the banner of a logged-in page, critical ones first.

    The user was loaded in this request's database session, so the banner reuses it: one query on the same
    connection, and no page can forget the banner. Pages without a user (log-in, errors) show none."""
    session = object_session(user) if user is not None else None
    if session is None:
        return []
    return sorted(open_alerts(session=session), key=lambda alert: alert.level != "critical")


def set_flash(request: Request, key: str, **args: Any) -> None:
    """A one-time message shown on the next page, stored as a key so it renders in the reader's language."""
    request.session["flash"] = {"key": key, "args": args}


def render(
    request: Request, template: str, *, user: User | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    lang = page_language(request)
    t = translator(lang)
    flash = request.session.pop("flash", None)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    values = {
        "t": t,
        "tv": lambda prefix, value: translate_value(t, prefix, value),
        "lang": lang,
        "other_lang": "en" if lang == "vi" else "vi",
        "user": user,
        "logged_in": user is not None or "user_id" in request.session,
        "csrf_token": csrf_token(request.session),
        "flash": t(flash["key"], **flash.get("args", {})) if isinstance(flash, dict) and "key" in flash else None,
        "here": here,
        "health_alerts": health_alerts(user),
        **context,
    }
    return request.app.state.templates.TemplateResponse(request, template, values, status_code=status_code)
