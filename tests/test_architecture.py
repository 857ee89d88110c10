"""Imports run with the data, never against it (ARCHITECTURE.md): a package may import only what it is allowed to."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = {"config", "storage", "ingest", "detect", "review_ui", "matthan"}
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "storage": {"config"},
    "ingest": {"config", "storage"},
    "detect": {"config", "storage", "ingest"},  # ingest only for its frame type
    "review_ui": {"config", "storage", "ingest"},  # ingest only for its probe ("test connection")
    "matthan": OURS,
}
DETECT_MAY_TAKE_FROM_INGEST = {"ingest.frames"}
REVIEW_UI_MAY_TAKE_FROM_INGEST = {"ingest.probe", "ingest.errors"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def violations(root: Path = ROOT) -> list[str]:
    bad = []
    for package, allowed in ALLOWED.items():
        for path in sorted((root / package).rglob("*.py")):
            for module in imports_of(path):
                top = module.split(".")[0]
                if top not in OURS or top == package:
                    continue
                ok = top in allowed
                if package == "detect" and top == "ingest":
                    ok = any(module == m or module.startswith(m + ".") for m in DETECT_MAY_TAKE_FROM_INGEST)
                if package == "review_ui" and top == "ingest":
                    ok = any(module == m or module.startswith(m + ".") for m in REVIEW_UI_MAY_TAKE_FROM_INGEST)
                if not ok:
                    bad.append(f"{path.relative_to(root)} imports {module}")
    return bad


def test_imports_follow_the_data_flow() -> None:
    assert violations() == []


def test_the_guard_catches_backwards_imports(tmp_path: Path) -> None:
    for package, source in [("storage", "from review_ui.app import create_app\n"), ("ingest", "import detect.motion\n"),
                            ("detect", "from ingest.recorder import SegmentRecorder\n"), ("config", "import storage\n")]:
        (tmp_path / package).mkdir()
        (tmp_path / package / "x.py").write_text(source)
    assert sorted(violations(tmp_path)) == [
        "config/x.py imports storage", "detect/x.py imports ingest.recorder", "ingest/x.py imports detect.motion",
        "storage/x.py imports review_ui.app"]
