"""Cases as JSON: list, open, and one case with its evidence."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from review_ui.const import EXPORT_ROLES, TAGGING_ROLES
from review_ui.deps import CaseId, CurrentUserDep, SessionDep, SettingsDep, StoreDep, require_role
from review_ui.export import export_response
from review_ui.schemas import WRITE_ERRORS, CaseCreateIn, CaseDetailOut, CaseOut, ErrorOut
from storage.audit import append_audit
from storage.repo.cases import create_case, evidence_counts, get_case, list_cases

router = APIRouter(prefix="/cases", tags=["cases"])


@router.get("", response_model=list[CaseOut])
def cases(session: SessionDep, user: CurrentUserDep) -> list[CaseOut]:
    rows = list_cases(session=session)
    counts = evidence_counts(session=session, case_ids=[c.id for c in rows])
    return [CaseOut.from_case(c, evidence_count=counts.get(c.id, 0)) for c in rows]


@router.post("", status_code=201, response_model=CaseOut, responses=WRITE_ERRORS)
def open_case(body: CaseCreateIn, session: SessionDep, user: CurrentUserDep) -> CaseOut:
    """Open a case (admin or investigator)."""
    require_role(user, TAGGING_ROLES)
    case = create_case(session=session, title=body.title, description=body.description, user=user)
    session.refresh(case)
    return CaseOut.from_case(case, evidence_count=0)


@router.get("/{case_id}", response_model=CaseDetailOut, responses={404: {"model": ErrorOut, "description": "No such case"}})
def case(case_id: CaseId, session: SessionDep, user: CurrentUserDep) -> CaseDetailOut:
    """One case with its evidence; the view is written into the audit log (chain of custody)."""
    found = get_case(session=session, case_id=case_id)
    append_audit(session=session, actor=user.username, action="case.view", subject=f"case:{found.number}",
                 details={"evidence": [e.id for e in found.evidence], "via": "api"})
    return CaseDetailOut.from_case_detail(found)


@router.post("/{case_id}/export", response_class=StreamingResponse, responses={
    **WRITE_ERRORS, 200: {"content": {"application/zip": {}}, "description": "The case bundle (zip)"}})
def export_case(case_id: CaseId, session: SessionDep, store: StoreDep, settings: SettingsDep,
                user: CurrentUserDep) -> StreamingResponse:  # fmt: skip
    """Export the case as a bundle a court can check offline with `matthan verify` (admin or investigator). The
    manifest's SHA-256 is in the X-Manifest-SHA256 header and in the audit log."""
    require_role(user, EXPORT_ROLES)
    return export_response(session=session, store=store, settings=settings, case_id=case_id, user=user)
