"""Camera administration pages (administrators only): the site summary with the camera list, registering a camera
(with a connection test, static/cameras.js), editing, disabling and retiring one."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from review_ui.camera_admin import ProbeOutcome, ProbeRefused, cipher_of, edit, flat_values, register
from review_ui.const import CAMERA_ADMIN_ROLES
from review_ui.deps import CsrfDep, CurrentUserDep, SessionDep, SettingsDep, describe_errors, require_role
from review_ui.i18n import say, translator
from review_ui.schemas_cameras import CODE_PATTERN, CameraCreateIn, CameraUpdateIn
from review_ui.templating import page_language, render, set_flash
from storage.errors import Conflict
from storage.models import Camera, User
from storage.repo.camera_admin import (
    FUNDING_SOURCES, CameraInputError, camera_config, list_recorders, retire_camera, site_summary,
)
from storage.repo.cameras import get_camera, list_cameras

router = APIRouter(include_in_schema=False)
CodePath = Annotated[str, Path(pattern=CODE_PATTERN, max_length=63)]
TEXT_FIELDS = ("code", "name", "village", "address", "view", "main_url", "sub_url", "recorder", "username",
               "password", "donor", "installer", "funding_source")
FORM_MAX = 1000


def format_vnd(amount: int | None) -> str:
    """4200000 → "4.200.000 ₫" (Vietnamese groups thousands with dots)."""
    return f"{amount or 0:,}".replace(",", ".") + " ₫"


def _number(text: str, kind: type) -> Any:
    return kind(text) if text else None


def form_values(form: FormData) -> tuple[dict[str, Any], list[str]]:
    """The form's text as the API's fields; returns them and the keys of what could not be read."""
    raw = {k: str(v).strip()[:FORM_MAX] for k, v in form.items() if isinstance(v, str)}
    values: dict[str, Any] = {k: raw.get(k, "") for k in TEXT_FIELDS}
    errors = []
    if raw.get("source_kind") == "recorder":
        values["main_url"] = values["sub_url"] = None
    else:
        values["recorder"] = None
        values["sub_url"] = values["sub_url"] or None
    for name, kind in (("latitude", float), ("longitude", float), ("channel", int), ("retention_days", int)):
        try:
            values[name] = _number(raw.get(name, "").replace(",", "."), kind)
        except ValueError:
            errors.append(f"err_camera_{name}")
    try:  # "4.200.000", "4 200 000 ₫" and "4200000" are the same amount
        values["amount_vnd"] = int(re.sub(r"[\s.,₫đ]|VND", "", raw.get("amount_vnd", ""), flags=re.I) or 0)
    except ValueError:
        errors.append("err_camera_amount_vnd")
    for name in ("funded_on", "installed_on"):
        try:
            values[name] = dt.date.fromisoformat(raw[name]) if raw.get(name) else None
        except ValueError:
            errors.append(f"err_camera_{name}")
    if values.get("retention_days") is None:
        values.pop("retention_days")
    values["password"] = values["password"] or None  # empty: none for a new camera, unchanged for an edit
    return values, errors


def _form_page(request: Request, session: SessionDep, user: User, *, form: dict[str, Any], camera: Camera | None,
               errors: list[str], detail: str = "", outcome: ProbeOutcome | None = None, status_code: int = 200
               ) -> Response:  # fmt: skip
    return render(request, "camera_form.html", user=user, form=form, camera=camera, errors=errors, detail=detail,
                  outcome=outcome, recorders=list_recorders(session=session), sources=FUNDING_SOURCES,
                  vnd=format_vnd, status_code=status_code)  # fmt: skip


def _validate(model: type[pydantic.BaseModel], values: dict[str, Any]) -> tuple[dict[str, Any], str]:
    try:
        return model.model_validate(values).model_dump(exclude_unset=model is CameraUpdateIn), ""
    except pydantic.ValidationError as exc:
        return values, describe_errors(exc.errors())[0]


@router.get("/admin/cameras", name="cameras_page")
def cameras_page(request: Request, session: SessionDep, user: CurrentUserDep) -> Response:
    require_role(user, CAMERA_ADMIN_ROLES)
    return render(request, "cameras.html", user=user, cameras=list_cameras(session=session),
                  summary=site_summary(session=session), sources=FUNDING_SOURCES, vnd=format_vnd)  # fmt: skip


@router.get("/admin/cameras/new", name="camera_new_page")
def camera_new_page(request: Request, session: SessionDep, user: CurrentUserDep) -> Response:
    require_role(user, CAMERA_ADMIN_ROLES)
    return _form_page(request, session, user, form={"funding_source": "community", "retention_days": 30},
                      camera=None, errors=[])  # fmt: skip


async def _admin_form(handler: Callable[..., Response], request: Request, session: SessionDep,
                      settings: SettingsDep, user: User, **path: str) -> Response:  # fmt: skip
    """An administrator's form post: the form is read on the event loop; `handler` (the database work and the
    connection test, seconds) runs in a thread."""
    require_role(user, CAMERA_ADMIN_ROLES)
    form = await request.form()
    return await run_in_threadpool(handler, request, session, settings, user, form, **path)


def _refused_page(request: Request, session: SessionDep, user: User, *, form: dict[str, Any], camera: Camera | None,
                  exc: ProbeRefused | Conflict | CameraInputError) -> Response:  # fmt: skip
    """The form again, saying why nothing was saved: the connection test's outcome, or the conflict or bad input."""
    if isinstance(exc, ProbeRefused):
        return _form_page(request, session, user, form=form, camera=camera, errors=[], outcome=exc.outcome,
                          status_code=422)  # fmt: skip
    status_code = 409 if isinstance(exc, Conflict) else 422
    said = say(translator(page_language(request)), exc)
    if said != str(exc):  # in the reader's words: no English detail needed
        return _form_page(request, session, user, form=form, camera=camera, errors=[said], status_code=status_code)
    return _form_page(request, session, user, form=form, camera=camera, errors=["err_camera_input"], detail=str(exc),
                      status_code=status_code)  # fmt: skip


@router.post("/admin/cameras")
async def camera_create(request: Request, session: SessionDep, settings: SettingsDep, user: CurrentUserDep,
                        _csrf: CsrfDep) -> Response:  # fmt: skip
    return await _admin_form(_create, request, session, settings, user)


def _create(request: Request, session: SessionDep, settings: SettingsDep, user: User, form: FormData) -> Response:
    values, errors = form_values(form)
    shown = {k: v for k, v in values.items() if k != "password"}
    save_unverified = form.get("save_unverified") == "on"
    validated, detail = _validate(CameraCreateIn, values)
    if errors or detail:
        return _form_page(request, session, user, form=shown, camera=None, errors=errors or ["err_camera_input"],
                          detail=detail, status_code=422)  # fmt: skip
    try:
        cam, outcome = register(session=session, settings=settings, values=validated, actor=user.username,
                                save_unverified=save_unverified)  # fmt: skip
    except (ProbeRefused, Conflict, CameraInputError) as exc:
        return _refused_page(request, session, user, form=shown, camera=None, exc=exc)
    set_flash(request, "camera_created" if outcome.ok else "camera_saved_disabled", code=cam.code)
    return RedirectResponse(f"/admin/cameras/{cam.code}", status_code=303)


@router.get("/admin/cameras/{code}", name="camera_page")
def camera_page(request: Request, code: CodePath, session: SessionDep, settings: SettingsDep,
                user: CurrentUserDep) -> Response:  # fmt: skip
    require_role(user, CAMERA_ADMIN_ROLES)
    cam = get_camera(session=session, code=code)
    return _form_page(request, session, user, form=_stored_form(session, settings, cam), camera=cam, errors=[])


def _stored_form(session: SessionDep, settings: SettingsDep, cam: Camera) -> dict[str, Any]:
    values = flat_values(camera_config(session=session, cam=cam, cipher=cipher_of(settings)))
    values.pop("password")
    return values


@router.post("/admin/cameras/{code}")
async def camera_update(request: Request, code: CodePath, session: SessionDep, settings: SettingsDep,
                        user: CurrentUserDep, _csrf: CsrfDep) -> Response:  # fmt: skip
    return await _admin_form(_update, request, session, settings, user, code=code)


def _update(request: Request, session: SessionDep, settings: SettingsDep, user: User, form: FormData, *,
            code: str) -> Response:  # fmt: skip
    cam = get_camera(session=session, code=code)
    values, errors = form_values(form)
    values.pop("code", None)
    shown = {**{k: v for k, v in values.items() if k != "password"}, "code": cam.code}
    validated, detail = _validate(CameraUpdateIn, values)
    if errors or detail:
        return _form_page(request, session, user, form=shown, camera=cam, errors=errors or ["err_camera_input"],
                          detail=detail, status_code=422)  # fmt: skip
    try:
        outcome = edit(session=session, settings=settings, cam=cam, changes=validated, actor=user.username,
                       save_unverified=form.get("save_unverified") == "on")  # fmt: skip
    except (ProbeRefused, Conflict, CameraInputError) as exc:
        return _refused_page(request, session, user, form=shown, camera=cam, exc=exc)
    saved_disabled = outcome is not None and not outcome.ok
    set_flash(request, "camera_saved_disabled" if saved_disabled else "camera_updated", code=cam.code)
    return RedirectResponse(f"/admin/cameras/{cam.code}", status_code=303)


@router.post("/admin/cameras/{code}/enabled")
async def camera_enabled(request: Request, code: CodePath, session: SessionDep, settings: SettingsDep,
                         user: CurrentUserDep, _csrf: CsrfDep) -> Response:  # fmt: skip
    return await _admin_form(_set_enabled, request, session, settings, user, code=code)


def _set_enabled(request: Request, session: SessionDep, settings: SettingsDep, user: User, form: FormData, *,
                 code: str) -> Response:  # fmt: skip
    cam = get_camera(session=session, code=code)
    enabled = form.get("enabled") == "on"
    try:
        edit(session=session, settings=settings, cam=cam, changes={"enabled": enabled}, actor=user.username,
             save_unverified=False)  # fmt: skip
    except Conflict as exc:
        return _refused_page(request, session, user, form=_stored_form(session, settings, cam), camera=cam, exc=exc)
    set_flash(request, "camera_enabled_done" if enabled else "camera_disabled_done", code=cam.code)
    return RedirectResponse(f"/admin/cameras/{cam.code}", status_code=303)


@router.post("/admin/cameras/{code}/retire")
async def camera_retire(request: Request, code: CodePath, session: SessionDep, settings: SettingsDep,
                        user: CurrentUserDep, _csrf: CsrfDep) -> Response:  # fmt: skip
    return await _admin_form(_retire, request, session, settings, user, code=code)


def _retire(request: Request, session: SessionDep, settings: SettingsDep, user: User, form: FormData, *,
            code: str) -> Response:  # fmt: skip
    cam = get_camera(session=session, code=code)
    if form.get("confirm") != "on":
        return _form_page(request, session, user, form=_stored_form(session, settings, cam), camera=cam,
                          errors=["err_retire_confirm"], status_code=422)  # fmt: skip
    reason = str(form.get("reason") or "").strip()[:2000]
    try:
        retire_camera(session=session, cam=cam, reason=reason, cipher=cipher_of(settings), actor=user.username)
    except Conflict as exc:
        return _refused_page(request, session, user, form=_stored_form(session, settings, cam), camera=cam, exc=exc)
    set_flash(request, "camera_retired_done", code=cam.code)
    return RedirectResponse(f"/admin/cameras/{cam.code}", status_code=303)
