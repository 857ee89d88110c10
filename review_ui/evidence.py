"""Tagging an event into a case (existing or new), shared by the form and the JSON API."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from review_ui.schemas import TagEvidenceIn
from storage.models import Evidence, User
from storage.objectstore import ObjectStore
from storage.repo.cases import create_case, get_case, tag_evidence
from storage.repo.events import get_event
from storage.repo.holds import apply_pending_holds

logger = logging.getLogger(__name__)


def tag_into_case(*, session: Session, store: ObjectStore, event_id: int, body: TagEvidenceIn, user: User) -> Evidence:
    """One transaction: a new case is only kept if the tag succeeds (the session rolls back on any error)."""
    get_event(session=session, event_id=event_id)  # 404 before a case is opened for a missing event
    if body.case_id is not None:
        case_id = get_case(session=session, case_id=body.case_id).id
    else:
        assert body.new_case_title is not None  # the schema guarantees one of the two
        case_id = create_case(session=session, title=body.new_case_title, user=user).id
    return tag_evidence(session=session, store=store, case_id=case_id, event_id=event_id, note=body.note, user=user)


def apply_holds_now(*, session: Session, store: ObjectStore) -> None:
    """After tagging or removing evidence: commit (the tag and the database hold are kept whatever the store does),
    then set or lift the objects' legal holds in the store. What the store does not take now stays queued, and the
    worker's retention pass retries it (storage.repo.holds)."""
    session.commit()
    try:
        apply_pending_holds(session=session, store=store)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        logger.warning("object-store legal holds left queued for the worker", exc_info=True)
