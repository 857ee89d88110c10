"""Case export: a bundle an investigator downloads verifies offline, and any altered, missing or added file, or an
altered audit entry, is named by `matthan verify`; duty officers may not export."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.bundle import AUDIT, MANIFEST, verify_bundle
from storage.models import AuditEntry


def export(client, case_id: int):
    return client.post(f"/api/cases/{case_id}/export", json={})


def case_with(client, seed, *names: str, title: str = "Trộm xe máy ở chợ") -> dict:
    case = client.post("/api/cases", json={"title": title, "description": "Sáng 1/5/2024"}).json()
    for name in names:
        answer = client.post(f"/api/events/{seed.events[name].id}/evidence",
                             json={"case_id": case["id"], "note": f"Lý do: {name}"})  # fmt: skip
        assert answer.status_code == 201, answer.text
    return case


def rewrite(bundle: bytes, change) -> bytes:
    """A copy of the zip with change(name, data) -> bytes | None applied to each member (None drops it)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bundle)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = change(info.filename, src.read(info))
            if data is not None:
                dst.writestr(info, data)
    return out.getvalue()


def cli_verify(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "matthan", "verify", str(path)], capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def test_an_exported_case_verifies_and_says_what_it_holds(login, seed, ui_db, tmp_path: Path) -> None:
    client = login("investigator")
    case = case_with(client, seed, "school_morning", "market")
    answer = export(client, case["id"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert f'filename="{case["number"]}.zip"' in answer.headers["content-disposition"]
    bundle = answer.content

    result = verify_bundle(io.BytesIO(bundle))
    assert result.ok, result.problems
    assert result.manifest_sha256 == answer.headers["x-manifest-sha256"]
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        manifest = json.loads(archive.read(MANIFEST))
        audit = json.loads(archive.read(AUDIT))
        clips = [n for n in archive.namelist() if n.startswith("clips/")]
        assert [hashlib.sha256(archive.read(n)).hexdigest() for n in clips] == [seed.clip_sha256] * 2
    assert manifest["case"]["number"] == case["number"] and manifest["exported_by"] == "investigator"
    assert manifest["timezone"] == "Asia/Ho_Chi_Minh"
    school, market = manifest["evidence"]
    assert school["camera"] == {"code": "cong-truong", "name": "Cổng trường tiểu học"}
    assert school["reason"] == "Lý do: school_morning" and school["tagged_by"] == "investigator"
    # 10:00 in Hà Nội, 03:00 UTC
    assert school["clip"]["start_utc"] == "2024-05-01T03:00:00.000Z"
    assert school["clip"]["start_local"] == "2024-05-01T10:00:00.000+07:00"
    # the school clip lies inside a recorded segment; nothing was recorded around the market's clip
    assert school["gaps"] == []
    assert [g["seconds"] for g in market["gaps"]] == [6.0]
    assert market["gaps"][0]["start_local"] == "2024-05-01T11:00:00.000+07:00"
    assert [row["action"] for row in audit] == ["case.create", "evidence.tag", "evidence.tag"]
    page = client.get(f"/cases/{case['id']}")  # looking at the evidence is on the record too
    assert page.status_code == 200
    again = verify_bundle(io.BytesIO(export(client, case["id"]).content))
    assert again.ok
    with zipfile.ZipFile(io.BytesIO(export(client, case["id"]).content)) as archive:
        actions = [row["action"] for row in json.loads(archive.read(AUDIT))]
    assert actions[3:] == ["case.export", "case.view", "case.export"], actions

    with ui_db.session() as session:
        exported = session.scalars(select(AuditEntry).where(AuditEntry.action == "case.export",
                                                            AuditEntry.subject == f"case:{case['number']}")
                                    .order_by(AuditEntry.id)).all()
    assert [e.details["manifest_sha256"] for e in exported][0] == answer.headers["x-manifest-sha256"]
    assert len(exported) == 3  # and the two exports after the page view

    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle)
    checked = cli_verify(path)
    assert checked.returncode == 0, checked.stderr
    assert f"verified: case {case['number']}" in checked.stdout and result.manifest_sha256 in checked.stdout


def test_verify_names_every_altered_missing_or_added_file(login, seed, tmp_path: Path) -> None:
    client = login("investigator")
    case = case_with(client, seed, "school_morning", title="Kiểm tra toàn vẹn")
    bundle = export(client, case["id"]).content
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        clip = next(n for n in archive.namelist() if n.startswith("clips/"))

    def flip_one_byte(name: str, data: bytes) -> bytes:
        if name != clip:
            return data
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]

    def forge_audit(name: str, data: bytes) -> bytes:
        # someone rewrites who tagged the clip, and even fixes the manifest's hash of audit.json: the entry's own
        # hash still gives it away
        return data.replace(b'"actor": "investigator"', b'"actor": "admin"', 1) if name == AUDIT else data

    def edit_manifest_entry(bundle_bytes: bytes, path: str, **fields: object) -> bytes:
        """The bundle with the manifest's entry for `path` changed (its other entries and files as they were)."""
        def change(name: str, data: bytes) -> bytes:
            if name != MANIFEST:
                return data
            manifest = json.loads(data)
            for entry in manifest["files"]:
                if entry["path"] == path:
                    entry.update(fields)
            return json.dumps(manifest).encode()

        return rewrite(bundle_bytes, change)

    def fix_manifest(bundle_bytes: bytes) -> bytes:
        with zipfile.ZipFile(io.BytesIO(bundle_bytes)) as archive:
            audit = archive.read(AUDIT)
        return edit_manifest_entry(bundle_bytes, AUDIT, sha256=hashlib.sha256(audit).hexdigest(), bytes=len(audit))

    cases = {
        "altered clip": (rewrite(bundle, flip_one_byte), rf"{re.escape(clip)}: ALTERED"),
        "missing clip": (rewrite(bundle, lambda n, d: None if n == clip else d), rf"{re.escape(clip)}: MISSING"),
        "forged audit": (fix_manifest(rewrite(bundle, forge_audit)), r"audit\.json: entry \d+ does not match its hash"),
    }

    # the manifest's size of the clip changed, its SHA-256 left right: the message must not show two equal hashes
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        clip_bytes = archive.getinfo(clip).file_size
    cases["manifest size edited"] = (edit_manifest_entry(bundle, clip, bytes=clip_bytes + 1),
                                     rf"{re.escape(clip)}: ALTERED \((\d+) bytes, the manifest says (?!\1\b)\d+; the "
                                     r"manifest was edited\)")
    added = io.BytesIO(bundle)
    with zipfile.ZipFile(added, "a") as archive:
        archive.writestr("clips/extra.mp4", b"not evidence")
    cases["added file"] = (added.getvalue(), r"clips/extra\.mp4: ADDED")
    for what, (data, expected) in cases.items():
        path = tmp_path / f"{what.replace(' ', '-')}.zip"
        path.write_bytes(data)
        checked = cli_verify(path)
        assert checked.returncode == 1, (what, checked.stdout, checked.stderr)
        assert re.search(expected, checked.stderr), (what, checked.stderr)
        assert "FAILED verification" in checked.stderr
    garbage_audit = fix_manifest(rewrite(bundle, lambda n, d: b"{not json" if n == AUDIT else d))
    (tmp_path / "garbage-audit.zip").write_bytes(garbage_audit)
    checked = cli_verify(tmp_path / "garbage-audit.zip")
    assert checked.returncode == 1 and "audit.json is not a valid audit trail" in checked.stderr, checked.stderr
    (tmp_path / "not-a-zip.zip").write_bytes(b"hello")
    assert "not a readable zip" in cli_verify(tmp_path / "not-a-zip.zip").stderr


def test_a_duty_officer_may_not_export(login, seed, ui_db) -> None:
    case = case_with(login("investigator"), seed, "school_noon", title="Không được xuất")
    duty = login("duty")
    refused = export(duty, case["id"])
    assert refused.status_code == 403, refused.text
    page = duty.get(f"/cases/{case['id']}")
    assert page.status_code == 200 and "export-form" not in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', duty.get("/events").text)
    form = duty.post(f"/cases/{case['id']}/export", data={"csrf_token": token.group(1) if token else ""})
    assert form.status_code == 403
    with ui_db.session() as session:
        assert not session.scalars(select(AuditEntry).where(AuditEntry.action == "case.export",
                                                            AuditEntry.subject == f"case:{case['number']}")
                                    .order_by(AuditEntry.id)).all()


def test_the_case_page_exports_with_its_form(login, seed) -> None:
    client = login("admin")
    case = case_with(client, seed, "school_next_day", title="Xuất từ trang")
    page = client.get(f"/cases/{case['id']}")
    assert 'id="export-form"' in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post(f"/cases/{case['id']}/export", data={"csrf_token": token})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    assert verify_bundle(io.BytesIO(answer.content)).ok
    assert client.post(f"/cases/{case['id']}/export", data={"csrf_token": "wrong"}).status_code == 403


def test_an_empty_case_is_not_exported(login, seed) -> None:
    client = login("investigator")
    empty = client.post("/api/cases", json={"title": "Chưa có chứng cứ"}).json()
    answer = export(client, empty["id"])
    assert answer.status_code == 409 and "no evidence" in answer.json()["detail"]


@pytest.mark.parametrize("role", ["admin", "investigator"])
def test_export_of_a_missing_case_is_404(login, seed, role: str) -> None:
    assert export(login(role), 999_999).status_code == 404
