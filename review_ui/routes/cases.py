"""Case pages: the list and one case with its evidence."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from review_ui.const import EXPORT_ROLES
from review_ui.deps import CaseId, CsrfDep, CurrentUserDep, SessionDep, SettingsDep, StoreDep, require_role
from review_ui.export import export_response
from review_ui.templating import render
from storage.audit import append_audit
from storage.repo.cases import evidence_counts, get_case, list_cases

router = APIRouter(include_in_schema=False)


@router.get("/cases", name="cases_page")
def cases_page(request: Request, session: SessionDep, user: CurrentUserDep) -> Response:
    cases = list_cases(session=session)
    counts = evidence_counts(session=session, case_ids=[c.id for c in cases])
    return render(request, "cases.html", user=user, cases=cases, counts=counts)


@router.get("/cases/{case_id}", name="case_page")
def case_page(request: Request, case_id: CaseId, session: SessionDep, user: CurrentUserDep) -> Response:
    case = get_case(session=session, case_id=case_id)
    # chain of custody: who looked at the evidence, and when
    append_audit(session=session, actor=user.username, action="case.view", subject=f"case:{case.number}",
                 details={"evidence": [e.id for e in case.evidence], "via": "page"})
    return render(request, "case.html", user=user, case=case, can_export=user.role in EXPORT_ROLES)


@router.post("/cases/{case_id}/export", name="export_case")
def export_case(case_id: CaseId, session: SessionDep, store: StoreDep, settings: SettingsDep, user: CurrentUserDep,
                _csrf: CsrfDep) -> Response:  # fmt: skip
    require_role(user, EXPORT_ROLES)
    return export_response(session=session, store=store, settings=settings, case_id=case_id, user=user)
