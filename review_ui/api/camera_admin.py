"""Camera administration as JSON (administrators only): test a connection, register, edit, disable, retire, and the
site summary. Passwords go in and are never answered back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from review_ui.camera_admin import (
    ProbeOutcome, ProbeRefused, cipher_of, edit, probe_values, recorder_code, register,
)
from review_ui.const import CAMERA_ADMIN_ROLES
from review_ui.deps import CurrentUserDep, SessionDep, SettingsDep, require_role
from review_ui.schemas import WRITE_ERRORS, ErrorOut
from review_ui.schemas_cameras import (
    CODE_PATTERN, CameraAdminOut, CameraCreateIn, CameraUpdateIn, ProbeIn, ProbeOut, RetireIn, SummaryOut,
)
from storage.models import User
from storage.repo.camera_admin import retire_camera, site_summary
from storage.repo.cameras import get_camera

router = APIRouter(prefix="/cameras", tags=["cameras"])
CodePath = Annotated[str, Path(pattern=CODE_PATTERN, max_length=63, description="Camera code")]


def _admin(user: CurrentUserDep) -> User:
    require_role(user, CAMERA_ADMIN_ROLES)
    return user


# a dependency, so a refused role gets its 403 before the body is read (and before any probe runs)
AdminDep = Annotated[User, Depends(_admin, scope="function")]
NO_CAMERA = {404: {"model": ErrorOut, "description": "No such camera"}}
REFUSED = {409: {"model": ErrorOut, "description": "The code is taken, or the camera is retired"},
           422: {"model": ProbeOut,
                 "description": "Malformed input, or the connection test failed (`problem` says which)"}}


def probe_out(outcome: ProbeOutcome) -> ProbeOut:
    result = outcome.result
    return ProbeOut(ok=outcome.ok, problem=outcome.problem, message=outcome.message,  # type: ignore[arg-type]
                    codec=result.codec if result else None, width=result.width if result else None,
                    height=result.height if result else None, fps=result.fps if result else None,
                    snapshot_jpeg_base64=outcome.snapshot_base64,
                    sub_ok=(outcome.sub_error is None) if outcome.sub_tested else None)


def _refused(exc: ProbeRefused) -> JSONResponse:
    out = probe_out(exc.outcome)
    return JSONResponse({"detail": f"connection test failed ({out.problem}): {out.message}", **out.model_dump()},
                        status_code=422)


@router.post("/probe", response_model=ProbeOut, responses={**WRITE_ERRORS, **NO_CAMERA})
def probe(body: ProbeIn, session: SessionDep, settings: SettingsDep, admin: AdminDep) -> ProbeOut:
    """Test a connection before saving: codec, resolution, fps and one JPEG picture of the main stream, or which
    problem it has — unreachable (refused / no answer), unauthorized (user name or password), not_found (wrong path
    or channel), no_video (no video track, or not H.264/H.265). Takes up to about twice ingest.connect_timeout_s."""
    values = body.model_dump(exclude={"camera"}, exclude_unset=True)
    return probe_out(probe_values(session=session, settings=settings, values=values, camera=body.camera))


@router.get("/summary", response_model=SummaryOut, responses={403: WRITE_ERRORS[403]})
def summary(session: SessionDep, admin: AdminDep) -> SummaryOut:
    """Cameras active, disabled and retired, online now, and the funding in VND (cameras and recorders)."""
    return SummaryOut.from_summary(site_summary(session=session))


@router.get("/{camera_code}/admin", response_model=CameraAdminOut, responses={403: WRITE_ERRORS[403], **NO_CAMERA})
def camera(camera_code: CodePath, session: SessionDep, admin: AdminDep) -> CameraAdminOut:
    """Everything stored about a camera except its password."""
    cam = get_camera(session=session, code=camera_code)
    return CameraAdminOut.from_camera(cam, recorder_code(session, cam))


@router.post("", status_code=201, response_model=CameraAdminOut, responses={**WRITE_ERRORS, **REFUSED})
def create(body: CameraCreateIn, session: SessionDep, settings: SettingsDep, admin: AdminDep
           ) -> CameraAdminOut | JSONResponse:
    """Register a camera. Its connection is tested first and a failure is refused (422, `problem` says which) unless
    save_unverified is true: then it is saved disabled. Recording starts within the worker's refresh."""
    try:
        cam, _ = register(session=session, settings=settings, values=body.model_dump(exclude={"save_unverified"}),
                          actor=admin.username, save_unverified=body.save_unverified)
    except ProbeRefused as exc:
        return _refused(exc)
    return CameraAdminOut.from_camera(cam, recorder_code(session, cam))


@router.patch("/{camera_code}", response_model=CameraAdminOut, responses={**WRITE_ERRORS, **NO_CAMERA, **REFUSED})
def change(camera_code: CodePath, body: CameraUpdateIn, session: SessionDep, settings: SettingsDep, admin: AdminDep
           ) -> CameraAdminOut | JSONResponse:
    """Change what is given. `enabled: false` disables the camera (recording stops, footage stays); a changed
    stream or login is tested first, as at registration."""
    cam = get_camera(session=session, code=camera_code)
    try:
        edit(session=session, settings=settings, cam=cam, changes=body.model_dump(exclude_unset=True,
                                                                                  exclude={"save_unverified"}),
             actor=admin.username, save_unverified=body.save_unverified)  # fmt: skip
    except ProbeRefused as exc:
        return _refused(exc)
    return CameraAdminOut.from_camera(cam, recorder_code(session, cam))


@router.post("/{camera_code}/retire", response_model=CameraAdminOut, responses={**WRITE_ERRORS, **NO_CAMERA, **REFUSED})
def retire(camera_code: CodePath, body: RetireIn, session: SessionDep, settings: SettingsDep, admin: AdminDep
           ) -> CameraAdminOut:
    """Take a camera permanently out of service: it stops recording and leaves the live wall; it stays with its
    footage, events and evidence. Cannot be undone (register the replacement as a new camera)."""
    cam = get_camera(session=session, code=camera_code)
    retire_camera(session=session, cam=cam, reason=body.reason, cipher=cipher_of(settings), actor=admin.username)
    return CameraAdminOut.from_camera(cam, recorder_code(session, cam))
