"""Case pages: the list, one case with its evidence, editing it, removing evidence, exporting."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from review_ui.const import EXPORT_ROLES, TAGGING_ROLES
from review_ui.evidence import apply_holds_now
from review_ui.deps import (CaseId, CsrfDep, CurrentUserDep, EvidenceId, SessionDep, SettingsDep, StoreDep,
                            require_role)
from review_ui.export import export_response
from review_ui.i18n import say, translator
from review_ui.schemas import DESCRIPTION_MAX, NOTE_MAX, TITLE_MAX
from review_ui.templating import page_language, render, set_flash
from storage.audit import append_audit
from storage.errors import Conflict
from storage.models import User
from storage.repo.cases import (CASE_STATUSES, assignable_users, evidence_counts, get_case, list_cases,
                                remove_evidence, update_case)

router = APIRouter(include_in_schema=False)


@router.get("/cases", name="cases_page")
def cases_page(request: Request, session: SessionDep, user: CurrentUserDep,
               status: Annotated[str, Query(max_length=10)] = "",
               mine: Annotated[str, Query(max_length=3)] = "") -> Response:  # fmt: skip
    chosen = status if status in CASE_STATUSES else None
    cases = list_cases(session=session, status=chosen, assigned_to=user.username if mine == "1" else None)
    counts = evidence_counts(session=session, case_ids=[c.id for c in cases])
    return render(request, "cases.html", user=user, cases=cases, counts=counts, statuses=CASE_STATUSES,
                  status=chosen or "", mine=mine == "1")


def _render_case(request: Request, *, session: Session, user: User, case_id: int, errors: list[str] | None = None,
                 status_code: int = 200, via: str = "page") -> Response:
    case = get_case(session=session, case_id=case_id)
    # chain of custody: who looked at the evidence, and when
    append_audit(session=session, actor=user.username, action="case.view", subject=f"case:{case.number}",
                 details={"evidence": [e.id for e in case.evidence], "via": via})
    can_change = user.role in TAGGING_ROLES
    return render(request, "case.html", user=user, case=case, can_export=user.role in EXPORT_ROLES,
                  can_change=can_change, statuses=CASE_STATUSES,
                  assignable=assignable_users(session=session) if can_change else [],
                  errors=errors or [], status_code=status_code, title_max=TITLE_MAX,
                  description_max=DESCRIPTION_MAX, note_max=NOTE_MAX)  # fmt: skip


@router.get("/cases/{case_id}", name="case_page")
def case_page(request: Request, case_id: CaseId, session: SessionDep, user: CurrentUserDep) -> Response:
    return _render_case(request, session=session, user=user, case_id=case_id)


FormText = Annotated[str, Form(max_length=20_000)]


@router.post("/cases/{case_id}", name="change_case")
def change_case(
    request: Request,
    case_id: CaseId,
    session: SessionDep,
    user: CurrentUserDep,
    _csrf: CsrfDep,
    title: FormText = "",
    description: FormText = "",
    status: Annotated[str, Form(max_length=10)] = "",
    assigned: Annotated[list[str] | None, Form(max_length=100)] = None,
) -> Response:
    require_role(user, TAGGING_ROLES)
    t = translator(page_language(request))
    title = title.strip()
    errors = []
    if not title:
        errors.append(t("err_title_required"))
    elif len(title) > TITLE_MAX:
        errors.append(t("err_too_long", field=t("case_title"), max=TITLE_MAX))
    if len(description) > DESCRIPTION_MAX:
        errors.append(t("err_too_long", field=t("description"), max=DESCRIPTION_MAX))
    if status not in CASE_STATUSES:
        errors.append(t("err_case_status"))
    if not errors:
        try:
            update_case(session=session, case_id=case_id, user=user, title=title, description=description.strip(),
                        status=status, assigned=assigned or [])  # fmt: skip
        except ValueError as exc:
            errors.append(say(t, exc))
    if errors:
        session.rollback()
        return _render_case(request, session=session, user=user, case_id=case_id, errors=errors, status_code=422)
    set_flash(request, "case_saved")
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}/evidence/{evidence_id}/remove", name="remove_evidence")
def remove_evidence_form(request: Request, case_id: CaseId, evidence_id: EvidenceId, session: SessionDep,
                         store: StoreDep, user: CurrentUserDep, _csrf: CsrfDep,
                         reason: FormText = "") -> Response:  # fmt: skip
    require_role(user, TAGGING_ROLES)
    t = translator(page_language(request))
    error, code = None, 422
    if not reason.strip():
        error = t("err_reason_required")
    elif len(reason) > NOTE_MAX:
        error = t("err_too_long", field=t("remove_reason"), max=NOTE_MAX)
    else:
        try:
            remove_evidence(session=session, case_id=case_id, evidence_id=evidence_id, reason=reason.strip(),
                            user=user)  # fmt: skip
        except Conflict as exc:
            error, code = say(t, exc), 409
    if error:
        session.rollback()
        return _render_case(request, session=session, user=user, case_id=case_id, errors=[error], status_code=code)
    apply_holds_now(session=session, store=store)
    set_flash(request, "evidence_removed", evidence=evidence_id)
    return RedirectResponse(f"/cases/{case_id}#evidence-list", status_code=303)


@router.post("/cases/{case_id}/export", name="export_case")
def export_case(case_id: CaseId, session: SessionDep, store: StoreDep, settings: SettingsDep, user: CurrentUserDep,
                _csrf: CsrfDep) -> Response:  # fmt: skip
    require_role(user, EXPORT_ROLES)
    return export_response(session=session, store=store, settings=settings, case_id=case_id, user=user)
