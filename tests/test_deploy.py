"""deploy/ files checked by the tools that read them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_units_verify(tmp_path: Path) -> None:
    # the units name the installed path; point them at this checkout's matthan so verify can check the binary
    matthan = Path(sys.executable).with_name("matthan")
    assert matthan.exists()
    units = []
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        target = tmp_path / unit.name
        target.write_text(unit.read_text().replace("/opt/matthan/.venv/bin/matthan", str(matthan)))
        units.append(str(target))
    assert len(units) == 2
    result = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=60)
    problems = [line for line in result.stderr.splitlines() if "matthan" in line]
    assert result.returncode == 0 and not problems, result.stderr
