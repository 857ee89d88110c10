"""Cameras as JSON (no stream URLs or credentials)."""

from __future__ import annotations

from fastapi import APIRouter

from review_ui.deps import CurrentUserDep, SessionDep
from review_ui.schemas import CameraOut
from storage.repo.cameras import list_cameras

router = APIRouter(prefix="/cameras", tags=["cameras"])


@router.get("", response_model=list[CameraOut])
def cameras(session: SessionDep, user: CurrentUserDep) -> list[CameraOut]:
    return [CameraOut.from_camera(c) for c in list_cameras(session=session)]
