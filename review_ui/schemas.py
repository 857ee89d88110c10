"""Request and response models of the JSON API, kept apart from the storage table models."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from storage.models import Camera, Case, Event, Evidence, HealthAlert, User

TITLE_MAX = 300
DESCRIPTION_MAX = 5000
NOTE_MAX = 2000


class _In(BaseModel):
    # Strict: "5" is not a case id and 123 is not a note; unknown fields are refused rather than ignored.
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class LoginIn(_In):
    username: Annotated[str, Field(min_length=1, max_length=100)]
    password: Annotated[str, Field(min_length=1, max_length=200)]


class ReviewIn(_In):
    reviewed: bool = Field(description="true: mark reviewed; false: back to not reviewed")


class PasswordChangeIn(_In):
    current_password: Annotated[str, Field(min_length=1, max_length=200)]
    new_password: Annotated[str, Field(min_length=8, max_length=200, description="At least 8 characters")]


class CaseCreateIn(_In):
    title: Annotated[str, Field(min_length=1, max_length=TITLE_MAX, description="What the case is about")]
    description: Annotated[str, Field(max_length=DESCRIPTION_MAX)] = ""


class CaseUpdateIn(_In):
    """Change a case: only the fields given change."""

    title: Annotated[str | None, Field(min_length=1, max_length=TITLE_MAX)] = None
    description: Annotated[str | None, Field(max_length=DESCRIPTION_MAX)] = None
    status: Literal["open", "closed"] | None = Field(default=None, description="A closed case's evidence is frozen")
    assigned: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]] | None, Field(
        max_length=50, description="User names of the investigators (or administrators) assigned; replaces the list")
    ] = None


class EvidenceRemoveIn(_In):
    reason: Annotated[str, Field(min_length=1, max_length=NOTE_MAX, description="Why the clip leaves the case")]


class TagEvidenceIn(_In):
    """Tag an event's clip into an existing case (case_id) or a new one (new_case_title): exactly one of the two."""

    case_id: Annotated[int | None, Field(ge=1, le=2**31 - 1, description="An existing case")] = None
    new_case_title: Annotated[
        str | None, Field(min_length=1, max_length=TITLE_MAX, description="Open a new case with this title")
    ] = None
    note: Annotated[str, Field(min_length=1, max_length=NOTE_MAX, description="Why this clip matters (required)")]

    @model_validator(mode="after")
    def _one_case(self) -> TagEvidenceIn:
        if (self.case_id is None) == (self.new_case_title is None):
            raise ValueError("give exactly one of case_id (an existing case) or new_case_title (a new case)")
        return self


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class UserOut(_Out):
    id: int
    username: str
    full_name: str
    role: str


class CameraRef(_Out):
    code: str
    name: str


class CameraOut(_Out):
    code: str
    name: str
    village: str
    address: str
    view: str
    enabled: bool
    status: str
    status_since: dt.datetime | None
    last_segment_at: dt.datetime | None

    @classmethod
    def from_camera(cls, camera: Camera) -> CameraOut:
        return cls.model_validate(camera)


class EventOut(_Out):
    id: int
    camera: CameraRef
    kind: str
    start_at: dt.datetime = Field(description="UTC")
    end_at: dt.datetime | None = Field(description="UTC; null while the event is still going on")
    labels: list[str] = Field(description="Label keys, most important first: motorbike, car, bus, truck, bicycle, "
                                          "person; covered or turned for tamper; the camera status for offline")
    label_scores: dict[str, float] = Field(description="Best detector score (0..1) per label")
    zones: list[str] = Field(description="Names of the camera's zones the objects entered")
    detail: str = Field(description="Free text, e.g. why the camera was offline; empty when there is none")
    score: float
    clip_status: str = Field(description="pending | ready | failed | none (offline periods have no footage)")
    clip_url: str | None = Field(description="Plays with HTTP Range support; null until the clip is ready")
    snapshot_url: str | None
    clip_sha256: str | None
    reviewed_at: dt.datetime | None = Field(description="UTC; when someone marked it reviewed, null if nobody has")
    reviewed_by: str | None

    @classmethod
    def from_event(cls, event: Event, *, root: str = "") -> EventOut:
        ready = event.clip_status == "ready" and bool(event.clip_key)
        return cls(
            id=event.id, camera=CameraRef.model_validate(event.camera), kind=event.kind, start_at=event.start_at,
            end_at=event.end_at, labels=list(event.labels or []), label_scores=_scores(event.label_scores),
            zones=list(event.zones or []), detail=event.detail or "", score=event.score, clip_status=event.clip_status,
            clip_url=f"{root}/media/events/{event.id}/clip.mp4" if ready else None,
            snapshot_url=f"{root}/media/events/{event.id}/snapshot.jpg" if event.snapshot_key else None,
            clip_sha256=event.clip_sha256, reviewed_at=event.reviewed_at, reviewed_by=event.reviewed_by,
        )


def _scores(stored: dict[str, object] | None) -> dict[str, float]:
    # Stored as JSON by the detector; anything that is not a number is left out rather than failing the answer.
    return {label: float(score) for label, score in (stored or {}).items()
            if isinstance(score, (int, float)) and not isinstance(score, bool)}


class EventPage(BaseModel):
    items: list[EventOut]
    total: int = Field(description="Matching events, counted up to 10001: more than 10000 means narrow the filter")
    limit: int
    offset: int


class EvidenceOut(_Out):
    id: int
    case_id: int
    event_id: int
    sha256: str
    bytes: int
    note: str
    tagged_by: str
    tagged_at: dt.datetime
    object_key: str
    camera: CameraRef | None = None
    event_start_at: dt.datetime | None = None

    @classmethod
    def from_evidence(cls, evidence: Evidence, *, tagged_by: User | None = None) -> EvidenceOut:
        user = tagged_by or evidence.tagged_by
        event = evidence.event
        return cls(
            id=evidence.id, case_id=evidence.case_id, event_id=evidence.event_id, sha256=evidence.sha256,
            bytes=evidence.bytes, note=evidence.note, tagged_by=user.username, tagged_at=evidence.tagged_at,
            object_key=evidence.object_key, camera=CameraRef.model_validate(event.camera) if event else None,
            event_start_at=event.start_at if event else None,
        )


class CaseOut(_Out):
    id: int
    number: str
    title: str
    description: str
    status: str
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime | None
    assigned: list[str] = Field(description="User names of the investigators assigned")
    evidence_count: int

    @classmethod
    def from_case(cls, case: Case, *, evidence_count: int) -> CaseOut:
        return cls(
            id=case.id, number=case.number, title=case.title, description=case.description, status=case.status,
            created_by=case.created_by.username, created_at=case.created_at, updated_at=case.updated_at,
            assigned=[u.username for u in case.assigned], evidence_count=evidence_count,
        )


class CaseDetailOut(CaseOut):
    evidence: list[EvidenceOut]

    @classmethod
    def from_case_detail(cls, case: Case) -> CaseDetailOut:
        items = [EvidenceOut.from_evidence(e) for e in case.evidence]
        base = CaseOut.from_case(case, evidence_count=len(items))
        return cls(**base.model_dump(), evidence=items)


class HealthAlertOut(_Out):
    code: str = Field(description="detector_unavailable | spool_quota | store_unavailable | …")
    level: str = Field(description="warning | critical")
    node: str = Field(description="The machine that raised it")
    message: str = Field(description="What is wrong, in English, from the worker")
    raised_at: dt.datetime = Field(description="UTC")

    @classmethod
    def from_alert(cls, alert: HealthAlert) -> HealthAlertOut:
        return cls.model_validate(alert)


class ErrorOut(BaseModel):
    detail: str = Field(description="What went wrong and, where it helps, what to do")


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(ErrorOut):
    errors: list[ErrorItem]


# Answers every /api route may give; routes add their own (403, 404, 409, 415).
API_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "Not logged in"},
    422: {"model": ValidationErrorOut, "description": "Malformed input"},
    503: {"model": ErrorOut, "description": "Database or object store unreachable; try again later"},
}
WRITE_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": ErrorOut, "description": "The role may not do this"},
    415: {"model": ErrorOut, "description": "The body must be JSON (Content-Type: application/json)"},
}
