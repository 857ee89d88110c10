"""The hash-chained audit log: append and check."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AuditEntry, utcnow

GENESIS = "0" * 64


def entry_hash(*, prev_hash: str, at: dt.datetime, actor: str, action: str, subject: str, details: dict[str, Any]) -> str:
    body = json.dumps(
        {
            "prev": prev_hash,
            "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "subject": subject,
            "details": details,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def append_audit(*, session: Session, actor: str, action: str, subject: str, details: dict[str, Any] | None = None) -> AuditEntry:
    """Add an entry chained to the newest one. Serialised by the caller's transaction (SQLite locks the database;
    on PostgreSQL the unique hash constraint makes a racing second writer fail and retry)."""
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()
    prev = last.hash if last else GENESIS
    at = utcnow()
    details = details or {}
    entry = AuditEntry(
        at=at, actor=actor, action=action, subject=subject, details=details, prev_hash=prev,
        hash=entry_hash(prev_hash=prev, at=at, actor=actor, action=action, subject=subject, details=details),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainBreak:
    entry_id: int
    reason: str


def check_audit_chain(*, session: Session) -> ChainBreak | None:
    """The first entry whose hash or link is wrong, or None when the whole chain holds."""
    prev = GENESIS
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(1000):
        if entry.prev_hash != prev:
            return ChainBreak(entry.id, "link to the previous entry is broken (an entry was removed or reordered)")
        expected = entry_hash(
            prev_hash=entry.prev_hash, at=entry.at, actor=entry.actor, action=entry.action,
            subject=entry.subject, details=entry.details,
        )
        if expected != entry.hash:
            return ChainBreak(entry.id, "content does not match its hash (the entry was altered)")
        prev = entry.hash
    return None
