"""Bearer-token authentication over HTTP: 401s, scopes, revocation and rotation without a
restart, the non-loopback refusal, TLS, rate limits, body size and read timeouts."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mcp.shared.exceptions import MCPError

pytestmark = pytest.mark.anyio

AUTH = ("--auth", "token", "--token-cache-seconds", "0")
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}


def bearer(token: str) -> dict[str, str]:
    return {**HEADERS, "Authorization": f"Bearer {token}"}


def leaves(exc: BaseException) -> list[BaseException]:
    """The innermost exceptions of a (nested) exception group."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]


def rpc_error(r: httpx.Response) -> dict[str, Any]:
    assert r.headers["content-type"].startswith("application/json"), r.text
    body = r.json()
    assert body["jsonrpc"] == "2.0" and body["id"] is None
    error: dict[str, Any] = body["error"]
    return error


SHARED_BURST = 40


@pytest.fixture(scope="module")
def shared(
    tmp_path_factory: pytest.TempPathFactory, launcher: Any, token_store: Any
) -> Iterator[tuple[Any, Any]]:
    """One server for the tests below that need no special start-up (each uses its own
    tenant): tiny body limit, short timeout, a rate limit only a flood reaches."""
    data = tmp_path_factory.mktemp("auth")
    server = launcher(
        data, *AUTH, "--max-body-bytes", "4096", "--request-timeout", "6",
        "--rate-limit", "0.01", "--rate-burst", str(SHARED_BURST),
    )  # fmt: skip
    tokens = token_store(data)
    yield server, tokens
    tokens.close()
    server.stop()


async def test_missing_invalid_and_revoked_tokens_get_401(
    shared: tuple[Any, Any], mcp_connect: Any
) -> None:
    server, tokens = shared
    issued = tokens.create("t401", "write")
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(server.url, json=INIT, headers=HEADERS)
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == 'Bearer realm="memory-mcp"'
        error = rpc_error(r)
        assert error["code"] == -32001 and "Authorization: Bearer" in error["message"]

        wrong = issued.token[:-4] + "AAAA"
        for bad in (wrong, "not-a-token", "mcm_000000000000_" + "x" * 43):
            r = await http.post(server.url, json=INIT, headers=bearer(bad))
            assert r.status_code == 401, bad
            assert 'error="invalid_token"' in r.headers["www-authenticate"]
            assert "unknown, revoked or expired" in rpc_error(r)["message"]

        r = await http.post(server.url, json=INIT, headers=bearer(issued.token))
        assert r.status_code == 200, r.text
        assert (await http.get(f"{server.base}/health")).status_code == 200  # probes stay open
        assert (await http.get(f"{server.base}/metrics")).status_code == 401
        metrics = await http.get(
            f"{server.base}/metrics", headers={"Authorization": f"Bearer {issued.token}"}
        )
        assert metrics.status_code == 200

    # The official client: works with the token, is refused without one.
    async with mcp_connect(server.url, issued.token) as client:
        created = await client.call_tool("create_episode", {"task_description": "auth ok"})
        assert not created.is_error
        tokens.store.revoke(issued.id)  # another process; no restart, no waiting
        with pytest.raises(MCPError) as refused:
            await client.call_tool("list_episodes", {})
        assert refused.value.code == -32001
    with pytest.raises(BaseException) as no_token:
        async with mcp_connect(server.url, None) as client:
            await client.list_tools()
    assert any("unauthorized" in str(e) for e in leaves(no_token.value)), no_token.value


async def test_scopes_read_write_admin(shared: tuple[Any, Any], mcp_connect: Any) -> None:
    server, tokens = shared
    reader = tokens.create("scopes", "read")
    writer = tokens.create("scopes", "write")
    admin = tokens.create("scopes", "admin")

    async with mcp_connect(server.url, writer.token) as client:
        created = await client.call_tool("create_episode", {"task_description": "scoped"})
        eid = created.structured_content["episode_id"]
        step = {"episode_id": eid, "tool": "t", "action": "a"}
        assert not (await client.call_tool("add_episode_step", step)).is_error
        done = await client.call_tool(
            "complete_episode", {"episode_id": eid, "outcome_type": "success"}
        )
        assert not done.is_error
        assert (await client.call_tool("add_episode_step", step)).is_error  # completed
        with pytest.raises(MCPError) as denied:
            await client.call_tool("delete_episode", {"episode_id": eid, "confirm": True})
        assert denied.value.code == -32003
        assert "needs a token with scope 'admin'" in denied.value.message

    async with mcp_connect(server.url, reader.token) as client:
        page = await client.call_tool("list_episodes", {})
        assert [e["id"] for e in page.structured_content["episodes"]] == [eid]
        assert not (await client.call_tool("get_episode", {"episode_id": eid})).is_error
        for name, args in (
            ("create_episode", {"task_description": "nope"}),
            ("add_episode_step", {"episode_id": eid, "tool": "t", "action": "a"}),
            ("complete_episode", {"episode_id": eid, "outcome_type": "success"}),
        ):
            with pytest.raises(MCPError) as denied:
                await client.call_tool(name, args)
            assert denied.value.code == -32003
            assert f"{name} needs a token with scope 'write'" in denied.value.message
            assert reader.id in denied.value.message and reader.token not in denied.value.message
        assert (
            len((await client.call_tool("list_episodes", {})).structured_content["episodes"]) == 1
        )

    async with mcp_connect(server.url, admin.token) as client:
        gone = await client.call_tool("delete_episode", {"episode_id": eid, "confirm": True})
        assert not gone.is_error

    # Every tool call is audited with the token id as principal, never the token.
    records = tokens.memory.audit_log.query("scopes", limit=None)
    tool_records = [r for r in records if r.operation.startswith("tool:")]
    by_op = {(r.operation, r.principal, r.outcome) for r in tool_records}
    assert ("tool:delete_episode", f"token:{writer.id}", "denied") in by_op
    assert ("tool:delete_episode", f"token:{admin.id}", "ok") in by_op
    assert ("tool:create_episode", f"token:{reader.id}", "denied") in by_op
    assert ("tool:list_episodes", f"token:{reader.id}", "ok") in by_op
    assert any(eid in r.target_ids for r in tool_records if r.operation == "tool:get_episode")
    # one record per call, whether the tool stored it on the worker (ok) or the guard did
    steps = sorted(
        (r.principal, r.outcome, r.target_ids)
        for r in tool_records
        if r.operation == "tool:add_episode_step"
    )
    assert steps == sorted(
        [
            (f"token:{writer.id}", "ok", [eid]),
            (f"token:{writer.id}", "error", [eid]),
            (f"token:{reader.id}", "denied", [eid]),
        ]
    )
    completions = [
        (r.principal, r.outcome, r.target_ids)
        for r in tool_records
        if r.operation == "tool:complete_episode"
    ]
    assert sorted(completions) == sorted(
        [(f"token:{writer.id}", "ok", [eid]), (f"token:{reader.id}", "denied", [eid])]
    )
    # the library's own records carry the same principal (acting_as)
    assert any(
        r.operation == "start_episode" and r.principal == f"token:{writer.id}" for r in records
    )
    dump = json.dumps([r.model_dump(mode="json") for r in records])
    for issued in (reader, writer, admin):
        assert issued.token not in dump and issued.token.split("_", 2)[2] not in dump


async def test_rotation_takes_effect_without_restart(
    data_dir: Path, servers: Callable[..., Any], tokens: Any, mcp_connect: Any
) -> None:
    server = servers(data_dir, *AUTH, "--stateless")  # every request authenticates alone
    old = tokens.create("alpha", "write")
    new = None
    with pytest.raises(BaseException) as refused:
        async with mcp_connect(server.url, old.token) as client:
            assert not (await client.call_tool("list_episodes", {"limit": 1})).is_error
            new = tokens.store.rotate(old.id)
            await client.call_tool("list_episodes", {"limit": 1})
    assert new is not None
    codes = [getattr(e, "code", None) for e in leaves(refused.value)]
    assert -32001 in codes, leaves(refused.value)
    async with mcp_connect(server.url, new.token) as client:
        created = await client.call_tool("create_episode", {"task_description": "after rotation"})
        assert not created.is_error
        eid = created.structured_content["episode_id"]
    async with mcp_connect(server.url, tokens.create("beta", "read").token) as client:
        assert (await client.call_tool("list_episodes", {})).structured_content["episodes"] == []
        assert (await client.call_tool("get_episode", {"episode_id": eid})).is_error
    assert new.info.tenant == "alpha" and new.info.scope == "write"
    assert server.proc.poll() is None  # same process throughout


def test_non_loopback_without_auth_is_refused(data_dir: Path) -> None:
    from subprocess import run

    bin_ = str(Path(__import__("sys").executable).parent / "memory-mcp")
    env = {
        **__import__("os").environ,
        "DATABASE_URL": f"file:{data_dir / 'memory.db'}",
        "XDG_CONFIG_HOME": str(data_dir / "xdg"),
    }
    for k in ("MCP_AUTH", "MCP_INSECURE_NO_AUTH"):
        env.pop(k, None)
    refused = run(
        [bin_, "--transport", "http", "--host", "0.0.0.0", "--port", "0", "--auth", "none"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=data_dir,
    )
    assert refused.returncode == 2
    assert "refusing to serve 0.0.0.0 without authentication" in refused.stderr
    assert "--insecure-no-auth" in refused.stderr
    assert "Traceback" not in refused.stderr
    half_tls = run(
        [bin_, "--transport", "http", "--tls-cert", str(data_dir / "missing.pem")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=data_dir,
    )
    assert half_tls.returncode == 2 and "--tls-cert and --tls-key" in half_tls.stderr


async def test_non_loopback_defaults_to_tokens(
    data_dir: Path, servers: Callable[..., Any], tokens: Any
) -> None:
    """--auth auto on 0.0.0.0 turns tokens on (test_http.py::test_wildcard_bind_keeps_host_check
    runs 0.0.0.0 with --auth none --insecure-no-auth)."""
    secured = servers(data_dir, "--token-cache-seconds", "0", host="0.0.0.0")
    port = secured.url.rsplit(":", 1)[1].split("/")[0]
    url = f"http://127.0.0.1:{port}/mcp"
    issued = tokens.create("wild", "read")
    async with httpx.AsyncClient(timeout=30) as http:
        assert (await http.post(url, json=INIT, headers=HEADERS)).status_code == 401
        assert (await http.post(url, json=INIT, headers=bearer(issued.token))).status_code == 200


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls(
    data_dir: Path, servers: Callable[..., Any], tokens: Any, mcp_connect: Any
) -> None:
    cert, key = self_signed(data_dir)
    server = servers(data_dir, *AUTH, "--tls-cert", str(cert), "--tls-key", str(key))
    assert server.url.startswith("https://127.0.0.1:")
    issued = tokens.create("alpha", "write")
    trust = ssl.create_default_context(cafile=str(cert))
    async with mcp_connect(server.url, issued.token, verify=trust) as client:
        created = await client.call_tool("create_episode", {"task_description": "over TLS"})
        assert not created.is_error
    async with httpx.AsyncClient(verify=False, timeout=30) as http:
        plain = server.url.replace("https://", "http://")
        with pytest.raises(httpx.HTTPError):
            await http.post(plain, json=INIT, headers=bearer(issued.token))
    async with httpx.AsyncClient(verify=trust, timeout=30) as http:
        with pytest.raises(httpx.ConnectError):  # untrusted: a client must verify
            await httpx.AsyncClient(timeout=30).post(server.url, json=INIT)
        assert (await http.get(f"{server.base}/health")).status_code == 200


async def test_rate_limit_per_token(shared: tuple[Any, Any], mcp_connect: Any) -> None:
    # One request per 100 s after a burst: refusals are certain, whatever the machine load.
    server, tokens = shared
    first, second = tokens.create("rate"), tokens.create("rate")
    async with httpx.AsyncClient(timeout=30) as http:
        codes = [
            (await http.post(server.url, json=INIT, headers=bearer(first.token))).status_code
            for _ in range(SHARED_BURST + 1)
        ]
        assert codes == [200] * SHARED_BURST + [429]
        r = await http.post(server.url, json=INIT, headers=bearer(first.token))
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        error = rpc_error(r)
        assert error["code"] == -32029
        assert f"rate limit exceeded for token {first.id}" in error["message"]
        assert error["data"]["retry_after_seconds"] > 0
        # per token: another token of the same tenant is not affected
        assert (
            await http.post(server.url, json=INIT, headers=bearer(second.token))
        ).status_code == 200

    # Through the official client the refusal is a JSON-RPC error with the same message.
    seen: MCPError | None = None
    with pytest.raises(Exception) as outer:
        async with mcp_connect(server.url, second.token) as client:
            for _ in range(SHARED_BURST + 5):
                try:
                    await client.call_tool("list_episodes", {"limit": 1})
                except MCPError as exc:
                    seen = exc
                    raise
    assert seen is not None or any("rate limit exceeded" in str(e) for e in leaves(outer.value))
    if seen is not None:
        assert seen.code == -32029 and f"token {second.id}" in seen.message


async def test_oversize_body_is_413_and_slow_body_is_408(
    shared: tuple[Any, Any], mcp_connect: Any
) -> None:
    server, tokens = shared
    issued = tokens.create("size")
    big = {**INIT, "params": {**INIT["params"], "pad": "x" * 10_000}}  # type: ignore[dict-item]
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(server.url, json=big, headers=bearer(issued.token))
        assert r.status_code == 413
        error = rpc_error(r)
        assert error["code"] == -32013 and "the limit is 4096 bytes" in error["message"]

        async def chunks() -> Any:  # no Content-Length: counted while reading
            for _ in range(10):
                yield b"x" * 1000

        r = await http.post(server.url, content=chunks(), headers=bearer(issued.token))
        assert r.status_code == 413
        # unauthenticated: 401 first, the body is never read
        r = await http.post(server.url, json=big, headers=HEADERS)
        assert r.status_code == 401

    async with mcp_connect(server.url, issued.token) as client:
        with pytest.raises(MCPError) as too_big:
            await client.call_tool("create_episode", {"task_description": "y" * 8000})
        assert "request body too large" in too_big.value.message
        ok = await client.call_tool("create_episode", {"task_description": "small"})
        assert not ok.is_error

    # A body that never completes: the server answers 408 after --request-timeout.
    host, port = server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(
            (
                f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {issued.token}\r\nContent-Type: application/json\r\n"
                'Content-Length: 500\r\n\r\n{"jsonrpc":'
            ).encode()
        )
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]


class FakeOpenAI(BaseHTTPRequestHandler):
    """Answers every embeddings request like the real API does for a wrong key: 401 with
    an error body that masks the key. Records the Authorization headers it receives."""

    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        FakeOpenAI.seen.append(self.headers.get("Authorization", ""))
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.dumps({"error": {
            "message": "Incorrect API key provided: sk-test-***kkkk.", "type": "invalid_request_error",
            "code": "invalid_api_key"}}).encode()  # fmt: skip
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


async def test_secrets_never_appear_in_logs(
    data_dir: Path, servers: Callable[..., Any], tokens: Any, mcp_connect: Any
) -> None:
    api_key = "sk-test-DO-NOT-LOG-" + "k" * 24
    fake = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    server = servers(
        data_dir,
        *AUTH,
        "--log-level",
        "DEBUG",
        env={
            "OPENAI_API_KEY": api_key,
            "OPENAI_BASE_URL": f"http://127.0.0.1:{fake.server_address[1]}/v1",
            "MEMORY_EMBEDDING_PROVIDER": "openai",
        },
    )
    issued = tokens.create("alpha", "read")
    writer = tokens.create("alpha", "write")
    async with httpx.AsyncClient(timeout=30) as http:
        await http.post(server.url, json=INIT, headers=bearer(issued.token[:-1] + "Z"))
        await http.post(server.url, json=INIT, headers=bearer(issued.token))
    async with mcp_connect(server.url, writer.token) as client:
        created = await client.call_tool("create_episode", {"task_description": "log me"})
        eid = created.structured_content["episode_id"]
        await client.call_tool("add_episode_step", {"episode_id": eid, "tool": "t", "action": "a"})
        await client.call_tool("complete_episode", {"episode_id": eid, "outcome_type": "success"})
        await client.call_tool("query_memory", {"query": "log me"})
        await client.read_resource("memory://health")  # type: ignore[arg-type]
        with pytest.raises(MCPError):
            await client.call_tool("delete_episode", {"episode_id": eid, "confirm": True})
    server.stop()
    fake.shutdown()
    assert FakeOpenAI.seen == [f"Bearer {api_key}"] * len(FakeOpenAI.seen) and FakeOpenAI.seen
    log = server.stderr
    assert "DEBUG" in log  # the logs ran at debug level
    assert "401" in log or "invalid_api_key" in log  # and the embedding failure was logged
    for issued_token in (issued, writer):
        # "mcm_<id>_<secret>": the secret itself may contain "_" (token_urlsafe)
        secret = issued_token.token.split("_", 2)[2]
        assert len(secret) >= 40 and secret not in log and secret[:-1] not in log
    assert api_key not in log and "DO-NOT-LOG" not in log


def test_help_lists_security_flags() -> None:
    bin_ = str(Path(__import__("sys").executable).parent / "memory-mcp")
    out = subprocess.run([bin_, "--help"], capture_output=True, text=True, timeout=60).stdout
    for flag in ("--auth", "--insecure-no-auth", "--tls-cert", "--rate-limit", "--max-body-bytes"):
        assert flag in out
