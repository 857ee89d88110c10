"""A throwaway PostgreSQL cluster on 127.0.0.1 for the tests and benchmarks: initdb in a temporary directory, one
database per test module, everything removed at the end. Runs the server as the `postgres` user when we are root
(PostgreSQL refuses to run as root)."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.ports import free_port

__all__ = ["INSTALL_HINT", "PostgresCluster", "free_port", "postgres_bin"]
INSTALL_HINT = "PostgreSQL is not installed: apt-get install postgresql (bash scripts/setup.sh --tests does it)"


def postgres_bin() -> Path | None:
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return bins[-1].parent if bins else None


class PostgresCluster:
    def __init__(self, root: Path | None = None) -> None:
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise RuntimeError(INSTALL_HINT)
        self.bin = bin_dir
        self.root = root or Path(tempfile.mkdtemp(prefix="matthan-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_owner: list[str] = []
        self._names = itertools.count(1)
        self.started = False

    def start(self) -> PostgresCluster:
        if os.geteuid() == 0:
            self._as_owner = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
            os.chmod(self.root, 0o700)
            os.chmod(self.root.parent, self.root.parent.stat().st_mode | 0o111)  # traversable by postgres
        self._run(self.bin / "initdb", "-D", self.data, "-U", "matthan", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8")  # fmt: skip
        # fsync off: a test cluster that dies is thrown away anyway; it makes the suite's many commits cheap
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.root / "server.log", "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300", "start")  # fmt: skip
        self.started = True
        return self

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = f"{prefix}_{next(self._names)}"
        subprocess.run([self.bin / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "matthan", name],
                       check=True, capture_output=True, timeout=60)  # fmt: skip
        return f"postgresql+psycopg://matthan@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.started:
            subprocess.run([*self._as_owner, self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60)  # fmt: skip
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, *cmd: object) -> None:
        result = subprocess.run([*self._as_owner, *map(str, cmd)], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{Path(str(cmd[0])).name} failed: {result.stderr.strip()} {tail}")
