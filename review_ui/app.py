"""The review UI application factory: pages, media, the JSON API, sessions and error mapping wired in one place."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from config import Settings
from review_ui.api import auth as api_auth
from review_ui.api import camera_admin as api_camera_admin
from review_ui.api import cameras as api_cameras
from review_ui.api import cases as api_cases
from review_ui.api import docs as api_docs
from review_ui.api import events as api_events
from review_ui.api import health as api_health
from review_ui.api import tokens as api_tokens
from review_ui.api import users as api_users
from review_ui.camera_health import StorageUsage
from review_ui.const import SESSION_COOKIE
from review_ui.deps import install_error_handlers, require_json_writes
from review_ui.live import api as api_live
from review_ui.live import pages as live_pages
from review_ui.live.service import LiveService, live_lifespan
from review_ui.routes import auth, cases, events, footage, media
from review_ui.routes import cameras as camera_pages
from review_ui.routes import health as health_pages
from review_ui.routes import tokens as token_pages
from review_ui.routes import users as user_pages
from review_ui.schemas import API_ERRORS
from review_ui.security import SecurityHeadersMiddleware
from review_ui.templating import STATIC_DIR, make_templates
from storage.db import Database
from storage.objectstore import ObjectStore


def create_app(settings: Settings, *, db: Database, store: ObjectStore) -> FastAPI:
    """Build the app around an already prepared database and object store (the caller owns their life cycle)."""
    app = FastAPI(
        title="Mắt Thần review API",
        summary="Events, clips and evidence of the community CCTV service",
        version="1",
        # Served by review_ui.api.docs behind the login instead (and without a CDN).
        openapi_url=None, docs_url=None, redoc_url=None,
        lifespan=live_lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.store = store
    app.state.tz = ZoneInfo(settings.web.timezone)
    app.state.templates = make_templates(settings)
    app.state.live = LiveService.from_settings(settings)
    install_error_handlers(app)

    for module in (auth, events, cases, media, footage):
        app.include_router(module.router)
    app.include_router(health_pages.router)
    app.include_router(camera_pages.router)
    app.state.storage_usage = StorageUsage()
    app.include_router(user_pages.router)
    app.include_router(token_pages.router)
    app.include_router(live_pages.router)

    api = APIRouter(prefix="/api", dependencies=[Depends(require_json_writes)], responses=API_ERRORS)
    api.include_router(api_camera_admin.router)
    for api_module in (api_auth, api_cameras, api_events, api_cases, api_health, api_docs):
        api.include_router(api_module.router)
    api.include_router(api_users.router)
    api.include_router(api_tokens.router)
    api.include_router(api_live.router)
    app.include_router(api)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.web.secret_key.get_secret_value(),
        session_cookie=SESSION_COOKIE,
        max_age=int(settings.web.session_hours * 3600),
        same_site="lax",
        https_only=settings.web.secure_cookies,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    return app
