"""The live view's state in the web process (hub + snapshots), found from the app, and how a camera becomes a target."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from config import Settings
from config.inventory import with_credentials
from review_ui.const import LIVE_GRACE_S, LIVE_SNAPSHOT_MAX_AGE_S
from review_ui.live.hub import LiveHub, LiveTarget, Stream
from review_ui.live.snapshot import SnapshotCache
from storage.credentials import CredentialCipher
from storage.errors import NotFound
from storage.repo.cameras import get_camera


@dataclass
class LiveService:
    hub: LiveHub
    snapshots: SnapshotCache
    credentials_key: str

    @classmethod
    def from_settings(cls, settings: Settings) -> LiveService:
        transport, timeout = settings.ingest.rtsp_transport, settings.ingest.connect_timeout_s
        return cls(hub=LiveHub(rtsp_transport=transport, connect_timeout_s=timeout, grace_s=LIVE_GRACE_S),
                   snapshots=SnapshotCache(rtsp_transport=transport, connect_timeout_s=timeout,
                                           max_age_s=LIVE_SNAPSHOT_MAX_AGE_S),
                   credentials_key=settings.security.credentials_key.get_secret_value())  # fmt: skip

    def target(self, session: Session, code: str, stream: Stream) -> LiveTarget:
        """The stream of an enabled camera, with its credentials joined (blocking: a database read)."""
        cam = get_camera(session=session, code=code)
        if not cam.enabled:
            raise NotFound(f"camera {code!r} is disabled")
        password = CredentialCipher(self.credentials_key).decrypt(cam.password_encrypted) \
            if cam.password_encrypted else ""
        if not cam.sub_url:
            stream = "main"  # the wall shows the main stream then, and shares its pull with the large view
        url = cam.sub_url if stream == "sub" and cam.sub_url else cam.main_url
        return LiveTarget(cam.code, stream, with_credentials(url, cam.username, password))

    async def find(self, session: Session, code: str, stream: Stream) -> LiveTarget:
        """target() off the event loop; then the request's transaction ends, before the slow part (opening a
        camera, gathering ICE): SQLite transactions here hold the write lock (BEGIN IMMEDIATE) while open."""

        def lookup() -> LiveTarget:
            try:
                return self.target(session, code, stream)
            finally:
                session.commit()

        return await run_in_threadpool(lookup)


@asynccontextmanager
async def live_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Close every peer connection and camera stream when the app stops."""
    yield
    service: LiveService | None = getattr(app.state, "live", None)
    if service is not None:
        await service.hub.close()
