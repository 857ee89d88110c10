"""The live wall page and the snapshot fallback picture."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from review_ui.const import LIVE_LAYOUTS
from review_ui.deps import CurrentUserDep, SessionDep
from review_ui.live.api import CameraCode, wall_cameras
from review_ui.live.service import LiveService
from review_ui.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/live", name="live_wall")
def live_wall(request: Request, session: SessionDep, user: CurrentUserDep) -> Response:
    cameras = wall_cameras(session)
    return render(request, "live.html", user=user, active="live", cameras=cameras, layouts=LIVE_LAYOUTS)


@router.get("/media/live/{camera_code}/snapshot.jpg", name="live_snapshot")
async def live_snapshot(request: Request, camera_code: CameraCode, session: SessionDep,
                        user: CurrentUserDep) -> Response:
    service: LiveService = request.app.state.live
    target = await service.find(session, camera_code, "sub")
    snapshot = await service.snapshots.get(target)
    return Response(snapshot.jpeg, media_type="image/jpeg",
                    headers={"Cache-Control": "private, no-store", "X-Taken-At": f"{snapshot.taken_at:.3f}"})
