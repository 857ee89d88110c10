"""Live view as JSON: a browser's WebRTC offer for a camera stream → the server's answer; what the hub pulls; the
wall's cameras and their states (the page polls them to tell a camera's drop and return without a reload)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from review_ui.deps import CurrentUserDep, SessionDep
from review_ui.live.service import LiveService
from storage.models import Camera
from storage.repo.cameras import list_cameras

router = APIRouter(prefix="/live", tags=["live"])
CameraCode = Annotated[str, Path(min_length=1, max_length=63, description="Camera code")]


class LiveOffer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sdp: str = Field(min_length=1, max_length=100_000, description="The browser's SDP offer, ICE gathering complete")
    type: Literal["offer"] = "offer"
    stream: Literal["sub", "main"] = Field(default="sub", description="sub for a wall tile, main for the large view")


class LiveAnswer(BaseModel):
    sdp: str
    type: Literal["answer"]
    camera: str
    stream: Literal["sub", "main"] = Field(description="The stream served (main when the camera has no sub stream)")


class LiveStreamOut(BaseModel):
    camera: str
    stream: str
    viewers: int
    packets: int = Field(description="H.264 access units read from the camera since the pull opened")
    rtp_sent: int = Field(description="RTP packets sent to the viewers connected now")
    rtp_resent: int = Field(description="of them sent again because a viewer reported them lost (NACK)")
    rtp_dropped: int = Field(description="not sent because the server's socket buffer was full")


class LiveStatusOut(BaseModel):
    streams: list[LiveStreamOut] = Field(description="Camera streams pulled now (one RTSP session each)")
    peers: int = Field(description="WebRTC connections open now")
    pulls_opened: dict[str, int] = Field(description="RTSP sessions opened since start, by camera/stream")
    pulls_failed: dict[str, int] = Field(description="attempts to open one that failed since start, by camera/stream "
                                                     "(a camera that failed is not tried again for a few seconds)")


class LiveCameraOut(BaseModel):
    camera: str
    status: str = Field(description="As the recorder last saw it: online, offline, auth_failed, unsupported_stream, "
                                    "connecting, stopped, unknown, …")
    detail: str = Field(description="The recorder's words on that status (English, for the technical detail)")


class LiveCamerasOut(BaseModel):
    cameras: list[LiveCameraOut] = Field(description="The cameras on the live wall (enabled, not retired)")


def _service(request: Request) -> LiveService:
    return request.app.state.live


@router.post("/{camera_code}/offer", response_model=LiveAnswer, responses={
    502: {"description": "The camera answered but refused: wrong password, no H.264 stream"},
    503: {"description": "The camera cannot be reached"}})  # fmt: skip
async def offer(request: Request, camera_code: CameraCode, body: LiveOffer, session: SessionDep,
                user: CurrentUserDep) -> LiveAnswer:
    """Watch a camera: send an offer with one recvonly video transceiver (H.264, packetization-mode 1) and every ICE
    candidate; the answer carries the server's. The camera's own H.264 is passed through, never re-encoded."""
    service = _service(request)
    target = await service.find(session, camera_code, body.stream)
    answer = await service.hub.answer(target, body.sdp)
    return LiveAnswer(sdp=answer.sdp, type="answer", camera=target.camera, stream=target.stream)


@router.get("/status", response_model=LiveStatusOut)
def status(request: Request, user: CurrentUserDep) -> LiveStatusOut:
    """What the live hub pulls now and for how many viewers."""
    hub = _service(request).hub
    return LiveStatusOut(streams=[LiveStreamOut(camera=s.camera, stream=s.stream, viewers=s.viewers, packets=s.packets,
                                                rtp_sent=s.rtp_sent, rtp_resent=s.rtp_resent, rtp_dropped=s.rtp_dropped)
                                  for s in hub.status()], peers=hub.peers, pulls_opened=dict(hub.pulls_opened),
                         pulls_failed=dict(hub.pulls_failed))


@router.get("/cameras", response_model=LiveCamerasOut)
def cameras(session: SessionDep, user: CurrentUserDep) -> LiveCamerasOut:
    """The wall's cameras and their recording states. The live wall asks every few seconds: a tile whose camera went
    offline says why, and one whose camera came back (it was offline when the page loaded) plays again by itself."""
    return LiveCamerasOut(cameras=[LiveCameraOut(camera=c.code, status=c.status, detail=c.status_detail or "")
                                   for c in wall_cameras(session)])


def wall_cameras(session: Session) -> list[Camera]:
    """The cameras the live wall shows: enabled ones (a retired camera is disabled too)."""
    return [c for c in list_cameras(session=session) if c.enabled]
