"""Case export as a download: the bundle is built into a temporary file (clips can be large), then streamed."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from config import Settings
from storage.bundle import build_bundle
from storage.models import User
from storage.objectstore import ObjectStore
from storage.repo.cases import get_case

CHUNK = 1 << 20


def export_response(*, session: Session, store: ObjectStore, settings: Settings, case_id: int,
                    user: User) -> StreamingResponse:  # fmt: skip
    """Build the bundle (which also writes the export into the audit log, committed with the request's session) and
    answer with it as an attachment. On any error the temporary file is removed and nothing is audited."""
    number = get_case(session=session, case_id=case_id).number
    filename = f"{number}.zip"
    spool = tempfile.TemporaryFile(prefix="matthan-export-", dir=settings.data_dir if os.path.isdir(settings.data_dir)
                                   else None)  # fmt: skip
    try:
        summary = build_bundle(session=session, store=store, case_id=case_id, user=user, out=spool,
                               timezone=settings.web.timezone, filename=filename)  # fmt: skip
        size = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise

    def chunks() -> Iterator[bytes]:
        with spool:
            while chunk := spool.read(CHUNK):
                yield chunk

    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Content-Length": str(size),
               "X-Manifest-SHA256": summary.manifest_sha256, "Cache-Control": "no-store"}  # fmt: skip
    return StreamingResponse(chunks(), media_type="application/zip", headers=headers)
