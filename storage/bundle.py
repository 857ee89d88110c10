"""A case's export bundle for a court, and its offline check.

The bundle is one zip: the evidence clips exactly as stored, `audit.json` (the case's entries of the hash-chained
audit log), `manifest.json` (the case, every clip's camera and times in UTC and local time, the gaps in recording
inside each clip, who tagged it and why, and the SHA-256 and size of every other file) and a short `README.txt`.
`verify_bundle` needs nothing but the zip: it recomputes every hash and names each file that was altered, is missing
or was added. The manifest's own SHA-256 is written into the station's audit log when the bundle is made, so a
bundle whose manifest was rewritten too is caught by comparing that figure with the station's record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.audit import append_audit, entry_hash
from storage.errors import Conflict, IntegrityError
from storage.models import AuditEntry, Case, Evidence, Segment, User
from storage.objectstore import ObjectStore
from storage.repo.cases import get_case
from storage.repo.segments import segments_between

FORMAT = "matthan-case-bundle/1"
MANIFEST = "manifest.json"
AUDIT = "audit.json"
README = "README.txt"
GAP_TOLERANCE_S = 0.5  # segment boundaries closer than this are contiguous (timestamps are rounded to frames)
CHUNK = 1 << 20

README_TEXT = """\
Hồ sơ vụ việc {number} — xuất từ Mắt Thần lúc {exported_local} ({timezone}) bởi {actor}.
Case file {number} — exported from Mắt Thần at {exported_local} ({timezone}) by {actor}.

Kiểm tra / To verify:  matthan verify {name}
  - mỗi tệp được so với SHA-256 trong manifest.json / every file is checked against its SHA-256 in manifest.json;
  - SHA-256 của manifest.json phải trùng với bản ghi "case.export" trong nhật ký của đơn vị:
    the SHA-256 of manifest.json must match the "case.export" record in the station's audit log.
Without the tool: sha256sum every file and compare with manifest.json ("files").
"""


@dataclass(frozen=True)
class BundleSummary:
    case_number: str
    files: int
    clip_bytes: int
    manifest_sha256: str


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _local(at: dt.datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).isoformat(timespec="milliseconds")


def _utc(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def recording_gaps(segments: Iterable[Segment], start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """Stretches of [start, end) no segment covers (the camera was offline, or footage was lost)."""
    gaps: list[tuple[dt.datetime, dt.datetime]] = []
    covered_to = _utc(start)
    end = _utc(end)
    tolerance = dt.timedelta(seconds=GAP_TOLERANCE_S)
    for segment in sorted(segments, key=lambda s: s.start_at):
        seg_start, seg_end = _utc(segment.start_at), _utc(segment.end_at)
        if seg_start - covered_to > tolerance:
            gaps.append((covered_to, min(seg_start, end)))
        covered_to = max(covered_to, seg_end)
        if covered_to >= end:
            break
    if end - covered_to > tolerance:
        gaps.append((covered_to, end))
    return gaps


def _case_audit(session: Session, case: Case) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.subject == f"case:{case.number}")
                                .order_by(AuditEntry.id)))  # fmt: skip


def _audit_row(entry: AuditEntry) -> dict[str, Any]:
    return {"id": entry.id, "at": entry.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "actor": entry.actor, "action": entry.action, "subject": entry.subject, "details": entry.details,
            "prev_hash": entry.prev_hash, "hash": entry.hash}  # fmt: skip


def _clip_name(index: int, evidence: Evidence) -> str:
    code = re.sub(r"[^A-Za-z0-9_.-]+", "_", evidence.event.camera.code)
    suffix = evidence.object_key.rsplit(".", 1)[-1] if "." in evidence.object_key.rsplit("/", 1)[-1] else "mp4"
    return f"clips/{index:03d}-{code}-event{evidence.event_id}.{suffix}"


def _copy_clip(store: ObjectStore, evidence: Evidence, archive: zipfile.ZipFile, name: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with archive.open(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), "w", force_zip64=True) as out:
        for chunk in store.iter_range(evidence.object_key):
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    sha = digest.hexdigest()
    if sha != evidence.sha256 or size != evidence.bytes:
        raise IntegrityError(
            f"the stored clip of evidence {evidence.id} ({evidence.object_key}) is no longer what was tagged "
            f"(SHA-256 {sha}, tagged as {evidence.sha256}); do not export — report it and restore the object "
            "from backup")  # fmt: skip
    return size, sha


def _write(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build_bundle(*, session: Session, store: ObjectStore, case_id: int, user: User, out: IO[bytes],
                 timezone: str, filename: str = "bundle.zip") -> BundleSummary:  # fmt: skip
    """Write case `case_id`'s bundle to `out` and record the export (with the manifest's SHA-256) in the audit log.
    Every clip is re-hashed while it is copied; one that no longer matches its tagging stops the export."""
    zone = ZoneInfo(timezone)
    case = get_case(session=session, case_id=case_id)
    if not case.evidence:
        raise Conflict(f"case {case.number} has no evidence to export; tag clips into it first")
    exported_at = dt.datetime.now(dt.UTC)
    files: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    clip_bytes = 0
    # clips are video: stored, not deflated (it saves nothing and costs CPU)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for index, evidence in enumerate(case.evidence, start=1):
            event = evidence.event
            name = _clip_name(index, evidence)
            size, sha = _copy_clip(store, evidence, archive, name)
            clip_bytes += size
            files.append({"path": name, "sha256": sha, "bytes": size})
            start = _utc(event.clip_start_at or event.start_at)
            end = _utc(event.clip_end_at or event.end_at or event.start_at)
            gaps = recording_gaps(segments_between(session=session, camera_id=event.camera_id, start=start, end=end),
                                  start, end)  # fmt: skip
            camera = event.camera
            items.append({
                "file": name, "event_id": event.id, "kind": event.kind, "labels": list(event.labels or []),
                "camera": {"code": camera.code, "name": camera.name},
                "event": {"start_utc": _iso(_utc(event.start_at)), "start_local": _local(event.start_at, zone),
                          "end_utc": _iso(_utc(event.end_at)) if event.end_at else None,
                          "end_local": _local(event.end_at, zone) if event.end_at else None},
                "clip": {"start_utc": _iso(start), "start_local": _local(start, zone),
                         "end_utc": _iso(end), "end_local": _local(end, zone)},
                "gaps": [{"start_utc": _iso(a), "end_utc": _iso(b), "start_local": _local(a, zone),
                          "end_local": _local(b, zone), "seconds": round((b - a).total_seconds(), 3)}
                         for a, b in gaps],
                "tagged_by": evidence.tagged_by.username, "tagged_at_utc": _iso(_utc(evidence.tagged_at)),
                "reason": evidence.note, "sha256_at_tagging": evidence.sha256,
            })  # fmt: skip
        audit = json.dumps([_audit_row(e) for e in _case_audit(session, case)], ensure_ascii=False, indent=1).encode()
        files.append({"path": AUDIT, "sha256": hashlib.sha256(audit).hexdigest(), "bytes": len(audit)})
        readme = README_TEXT.format(number=case.number, exported_local=_local(exported_at, zone), timezone=timezone,
                                    actor=user.username, name=filename).encode()  # fmt: skip
        files.append({"path": README, "sha256": hashlib.sha256(readme).hexdigest(), "bytes": len(readme)})
        manifest = {
            "format": FORMAT,
            "case": {"number": case.number, "title": case.title, "description": case.description,
                     "status": case.status, "assigned": [u.username for u in case.assigned],
                     "opened_by": case.created_by.username,
                     "opened_at_utc": _iso(_utc(case.created_at))},
            "exported_at_utc": _iso(exported_at), "exported_at_local": _local(exported_at, zone),
            "exported_by": user.username, "timezone": timezone,
            "evidence": items, "files": files,
        }  # fmt: skip
        manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
        _write(archive, AUDIT, audit)
        _write(archive, README, readme)
        _write(archive, MANIFEST, manifest_bytes)
    manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
    append_audit(session=session, actor=user.username, action="case.export", subject=f"case:{case.number}",
                 details={"manifest_sha256": manifest_sha, "clips": len(items), "bytes": clip_bytes})  # fmt: skip
    return BundleSummary(case_number=case.number, files=len(files) + 1, clip_bytes=clip_bytes,
                         manifest_sha256=manifest_sha)  # fmt: skip


# --- the offline check -----------------------------------------------------------------------------------------------


@dataclass
class Verification:
    manifest_sha256: str | None = None
    case_number: str | None = None
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.manifest_sha256 is not None


def _sha_of_member(archive: zipfile.ZipFile, name: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with archive.open(name) as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def verify_bundle(path: str | IO[bytes]) -> Verification:
    """Check a bundle with nothing but the zip. Each problem names the file and what is wrong with it."""
    result = Verification()
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        result.problems.append(f"not a readable zip file ({exc}); the bundle is damaged or not a Mắt Thần export")
        return result
    with archive:
        names = set(archive.namelist())
        if MANIFEST not in names:
            result.problems.append(f"{MANIFEST} is missing: this is not a complete Mắt Thần case bundle")
            return result
        raw = archive.read(MANIFEST)
        result.manifest_sha256 = hashlib.sha256(raw).hexdigest()
        try:
            manifest = json.loads(raw)
            files = {f["path"]: f for f in manifest["files"]}
            result.case_number = manifest["case"]["number"]
        except (ValueError, KeyError, TypeError) as exc:
            result.problems.append(f"{MANIFEST} is not a valid manifest ({exc}); it was altered or damaged")
            return result
        if manifest.get("format") != FORMAT:
            result.problems.append(f"{MANIFEST}: unknown format {manifest.get('format')!r} (expected {FORMAT})")
        for name, listed in sorted(files.items()):
            if name not in names:
                result.problems.append(f"{name}: MISSING (listed in the manifest, not in the bundle)")
                continue
            try:
                size, sha = _sha_of_member(archive, name)
            except (OSError, zipfile.BadZipFile) as exc:  # a flipped byte in a deflated member breaks its CRC
                result.problems.append(f"{name}: ALTERED or damaged, cannot be read ({exc})")
                continue
            if sha != listed.get("sha256"):
                result.problems.append(f"{name}: ALTERED (SHA-256 {sha}, the manifest says {listed.get('sha256')})")
            elif size != listed.get("bytes"):  # the SHA-256 matches: the manifest itself was edited
                result.problems.append(f"{name}: ALTERED ({size} bytes, the manifest says {listed.get('bytes')}; the "
                                       "manifest was edited)")
            else:
                result.checked.append(name)
        for name in sorted(names - set(files) - {MANIFEST}):
            if not name.endswith("/"):
                result.problems.append(f"{name}: ADDED (in the bundle, not in the manifest)")
        if AUDIT in result.checked:
            try:
                entries = json.loads(archive.read(AUDIT))
                result.problems += _check_audit(entries, manifest)
            except (ValueError, TypeError, AttributeError) as exc:
                result.problems.append(f"{AUDIT} is not a valid audit trail ({exc}); it was altered or damaged")
    return result


def _check_audit(entries: list[dict[str, Any]], manifest: dict[str, Any]) -> list[str]:
    """Every entry's hash must match its content; every clip must have its tagging entry with the same SHA-256."""
    problems = []
    tagged = set()
    if not isinstance(entries, list):
        raise TypeError("the audit trail must be a list of entries")
    for row in entries:
        try:
            at = dt.datetime.fromisoformat(row["at"])
            expected = entry_hash(prev_hash=row["prev_hash"], at=at, actor=row["actor"], action=row["action"],
                                  subject=row["subject"], details=row["details"])  # fmt: skip
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            problems.append(f"{AUDIT}: entry {row.get('id') if isinstance(row, dict) else '?'} is malformed ({exc})")
            continue
        if expected != row.get("hash"):
            problems.append(f"{AUDIT}: entry {row.get('id')} does not match its hash (it was altered)")
        elif row["action"] == "evidence.tag" and isinstance(row["details"], dict):
            tagged.add(row["details"].get("sha256"))
    listed = {f.get("path"): f.get("sha256") for f in manifest.get("files", [])}
    for item in manifest.get("evidence", []):
        if item.get("sha256_at_tagging") not in tagged:
            problems.append(f"{item.get('file')}: no tagging entry with its SHA-256 in {AUDIT}")
        elif listed.get(item.get("file")) != item.get("sha256_at_tagging"):
            problems.append(f"{item.get('file')}: not the clip that was tagged (its SHA-256 differs from the tagging)")
    return problems
