"""Cases as JSON: list, open, and one case with its evidence."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from review_ui.const import EXPORT_ROLES, TAGGING_ROLES
from review_ui.deps import CaseId, CurrentUserDep, EvidenceId, SessionDep, SettingsDep, StoreDep, require_role
from review_ui.evidence import apply_holds_now
from review_ui.export import export_response
from review_ui.schemas import (WRITE_ERRORS, CaseCreateIn, CaseDetailOut, CaseOut, CaseUpdateIn, ErrorOut,
                               EvidenceRemoveIn)
from storage.audit import append_audit
from storage.repo.cases import create_case, evidence_counts, get_case, list_cases, remove_evidence, update_case

router = APIRouter(prefix="/cases", tags=["cases"])


CHANGE_ERRORS: dict[int | str, dict[str, object]] = {
    **WRITE_ERRORS, 404: {"model": ErrorOut, "description": "No such case or evidence item"},
    409: {"model": ErrorOut, "description": "The case is closed: reopen it first"}}


@router.get("", response_model=list[CaseOut])
def cases(session: SessionDep, user: CurrentUserDep,
          status: Annotated[Literal["open", "closed"] | None, Query(description="Only cases in this state")] = None,
          assigned: Annotated[str | None, Query(max_length=100, description="Only cases assigned to this user name")]
          = None) -> list[CaseOut]:  # fmt: skip
    """The newest 100 cases."""
    rows = list_cases(session=session, status=status, assigned_to=assigned)
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


@router.patch("/{case_id}", response_model=CaseOut, responses=CHANGE_ERRORS)
def change_case(case_id: CaseId, body: CaseUpdateIn, session: SessionDep, user: CurrentUserDep) -> CaseOut:
    """Edit the title or description, close or reopen, assign investigators (admin or investigator). Only the
    fields given change; each change is an audit entry."""
    require_role(user, TAGGING_ROLES)
    case = update_case(session=session, case_id=case_id, user=user, title=body.title, description=body.description,
                       status=body.status, assigned=body.assigned)  # fmt: skip
    return CaseOut.from_case(case, evidence_count=len(case.evidence))


@router.delete("/{case_id}/evidence/{evidence_id}", status_code=204, responses=CHANGE_ERRORS)
def delete_evidence(case_id: CaseId, evidence_id: EvidenceId, body: EvidenceRemoveIn, session: SessionDep,
                    store: StoreDep, user: CurrentUserDep) -> Response:  # fmt: skip
    """Take a wrongly tagged clip out of an open case, saying why (admin or investigator). The audit log keeps what
    it was; its footage stays on legal hold (in the database and the object store) while other evidence still
    covers it."""
    require_role(user, TAGGING_ROLES)
    remove_evidence(session=session, case_id=case_id, evidence_id=evidence_id, reason=body.reason, user=user)
    apply_holds_now(session=session, store=store)
    return Response(status_code=204)


@router.post("/{case_id}/export", response_class=StreamingResponse, responses={
    **WRITE_ERRORS, 200: {"content": {"application/zip": {}}, "description": "The case bundle (zip)"}})
def export_case(case_id: CaseId, session: SessionDep, store: StoreDep, settings: SettingsDep,
                user: CurrentUserDep) -> StreamingResponse:  # fmt: skip
    """Export the case as a bundle a court can check offline with `matthan verify` (admin or investigator). The
    manifest's SHA-256 is in the X-Manifest-SHA256 header and in the audit log."""
    require_role(user, EXPORT_ROLES)
    return export_response(session=session, store=store, settings=settings, case_id=case_id, user=user)
