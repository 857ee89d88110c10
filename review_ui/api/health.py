"""The node's open health alerts as JSON (the same ones the pages' banner shows)."""

from __future__ import annotations

from fastapi import APIRouter

from review_ui.deps import CurrentUserDep, SessionDep
from review_ui.schemas import HealthAlertOut
from storage.repo.health import open_alerts

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/alerts", response_model=list[HealthAlertOut])
def alerts(session: SessionDep, user: CurrentUserDep) -> list[HealthAlertOut]:
    """Alerts raised and not yet resolved (spool over quota, object store unreachable, detection off), oldest
    first."""
    return [HealthAlertOut.from_alert(a) for a in open_alerts(session=session)]
