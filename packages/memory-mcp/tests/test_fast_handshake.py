"""The stdio front answers ``initialize`` before the SDK has imported; these tests prove its
answer is the SDK's own, field for field, and that every other opening still works.

In-process: the SDK server built by ``build_server`` answers the same requests as the
front's constants (``_handshake``), for every protocol version the SDK negotiates.
Over stdio (real subprocesses): the front answers, the server compares that answer with the
SDK's reply to the replayed request and logs the result, and the session carries on; a first
message that is not ``initialize`` is passed through; the official client completes the
learning loop through the front. The cold-start time is printed, never asserted.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import anyio
import mcp_types
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.message import SessionMessage
from mcp_types.version import (
    HANDSHAKE_PROTOCOL_VERSIONS,
    LATEST_HANDSHAKE_VERSION,
    MODERN_PROTOCOL_VERSIONS,
)
from memory_core import MemoryConfig
from memory_mcp import _handshake
from memory_mcp._server import build_server

# Every version the SDK serves through initialize, the modern one it does not (it counters
# with its latest), and one it has never heard of.
VERSIONS = [*HANDSHAKE_PROTOCOL_VERSIONS, "2026-07-28", "1999-01-01"]
FRONT_LOG = "answered by the stdio front"
CLIENT = {"name": "raw-test-client", "version": "0", "title": "Raw"}
Stdio = Callable[..., StdioServerParameters]


def initialize(version: str, request_id: int | str = 1, **params: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {"roots": {"listChanged": True}, "sampling": {}},
            "clientInfo": CLIENT,
            **params,
        },
    }


def envelope(version: str = "2026-07-28", **meta: Any) -> dict[str, Any]:
    """The 2026 per-request ``_meta`` (what the Python SDK 2.x client stamps on each request)."""
    return {
        f"{_handshake.ENVELOPE}protocolVersion": version,
        f"{_handshake.ENVELOPE}clientInfo": CLIENT,
        f"{_handshake.ENVELOPE}clientCapabilities": {"roots": {}},
        **{_handshake.ENVELOPE + key: value for key, value in meta.items()},
    }


def discover(request_id: int | str = 1, **meta: Any) -> dict[str, Any]:
    params = {"_meta": envelope(**meta)}
    return {"jsonrpc": "2.0", "id": request_id, "method": "server/discover", "params": params}


def test_constants_are_the_installed_sdks() -> None:
    """The front answers only for the SDK release it was checked against; a new release in
    the lock file fails here first: re-run this module, fix ``_handshake``, bump VERIFIED_SDK."""
    assert importlib.metadata.version("mcp") == _handshake.VERIFIED_SDK
    assert _handshake.installed_sdk_version() == importlib.metadata.version("mcp")
    assert _handshake.sdk_is_verified()
    assert _handshake.HANDSHAKE_PROTOCOL_VERSIONS == HANDSHAKE_PROTOCOL_VERSIONS
    assert _handshake.LATEST_HANDSHAKE_VERSION == LATEST_HANDSHAKE_VERSION
    assert _handshake.MODERN_PROTOCOL_VERSIONS == MODERN_PROTOCOL_VERSIONS


async def sdk_replies(requests: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    """What the SDK server (as ``memory-mcp`` builds it) answers, one fresh connection per
    request, serialized exactly as its stdio transport writes it."""
    config = MemoryConfig(database_url=f"file:{tmp_path / 'memory.db'}")
    server, _ = build_server(config)
    lowlevel = server._lowlevel_server
    replies = []
    for request in requests:
        to_server, server_in = anyio.create_memory_object_stream[SessionMessage | Exception](1)
        server_out, from_server = anyio.create_memory_object_stream[SessionMessage](1)
        message = mcp_types.jsonrpc_message_adapter.validate_json(
            json.dumps(request), by_name=False
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                lowlevel.run, server_in, server_out, lowlevel.create_initialization_options()
            )
            await to_server.send(SessionMessage(message))
            reply = await from_server.receive()
            await to_server.aclose()
        replies.append(json.loads(reply.message.model_dump_json(by_alias=True, exclude_unset=True)))
    return replies


@pytest.mark.anyio
async def test_front_answer_equals_the_sdk_server(tmp_path: Path) -> None:
    requests = [initialize(v, request_id=i) for i, v in enumerate(VERSIONS)]
    requests += [initialize("2025-06-18", request_id="string-id"), discover(request_id=9)]
    expected = await sdk_replies(requests, tmp_path)
    for request, sdk in zip(requests, expected, strict=True):
        opening = _handshake.parse_opening(json.dumps(request).encode() + b"\n")
        assert opening is not None and opening.id == request["id"], request
        assert json.loads(_handshake.response_line(opening)) == sdk
    negotiated = [reply["result"].get("protocolVersion") for reply in expected]
    assert negotiated[:4] == list(HANDSHAKE_PROTOCOL_VERSIONS)
    assert negotiated[4:6] == [LATEST_HANDSHAKE_VERSION] * 2
    assert expected[-1]["result"]["supportedVersions"] == list(MODERN_PROTOCOL_VERSIONS)


@pytest.mark.parametrize(
    "message",
    [
        {**initialize("2025-06-18"), "id": 1.5},
        {**initialize("2025-06-18"), "id": True},
        {**initialize("2025-06-18"), "method": "ping"},
        initialize("2025-06-18", _meta={"progressToken": 1}),
        {**initialize("2025-06-18"), "params": {"protocolVersion": "2025-06-18"}},
        initialize("2025-06-18", clientInfo={"name": "x"}),
        initialize("2025-06-18", clientInfo={"name": "x", "version": "0", "icons": []}),
        initialize("2025-06-18", capabilities={"roots": {"listChanged": "yes"}}),
        initialize("2025-06-18", capabilities={"sampling": None}),
        initialize(20250618),  # type: ignore[arg-type]
        discover(protocolVersion="2025-11-25"),
        discover(protocolVersion="2099-01-01"),
        discover(logLevel="debug"),
        {**discover(), "params": {"_meta": envelope(), "cursor": "x"}},
        {**discover(), "params": {"_meta": {}}},
    ],
)
def test_front_leaves_anything_unusual_to_the_sdk(message: dict[str, Any]) -> None:
    assert _handshake.parse_opening(json.dumps(message).encode()) is None


def test_front_ignores_non_json() -> None:
    assert _handshake.parse_opening(b"{not json\n") is None
    assert _handshake.parse_opening(b"[]\n") is None
    assert _handshake.parse_opening(b"[" * 100_000 + b"]" * 100_000) is None


def spawn(params: StdioServerParameters, stderr: IO[str] | int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [params.command, *params.args],
        env=params.env,
        cwd=params.cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
    )


def send(proc: subprocess.Popen[bytes], *messages: dict[str, Any]) -> None:
    """All messages in one write, as a pipelining client would send them."""
    assert proc.stdin is not None
    data = b"".join(json.dumps(m).encode() + b"\n" for m in messages)
    proc.stdin.write(data)
    proc.stdin.flush()


def receive(proc: subprocess.Popen[bytes], request_id: int | str) -> dict[str, Any]:
    """The reply to ``request_id``; other lines must still be JSON-RPC."""
    assert proc.stdout is not None
    while line := proc.stdout.readline():
        message: dict[str, Any] = json.loads(line)
        if message.get("id") == request_id and "method" not in message:
            return message
    raise AssertionError("server closed stdout")


def finish(proc: subprocess.Popen[bytes], log: Path) -> str:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    for line in proc.stdout.read().splitlines():
        json.loads(line)
    assert proc.wait(timeout=60) == 0
    return log.read_text()


def expected(opening: dict[str, Any]) -> dict[str, Any]:
    """The front's answer to ``opening`` (proven equal to the SDK's above)."""
    parsed = _handshake.parse_opening(json.dumps(opening).encode())
    assert parsed is not None
    reply: dict[str, Any] = json.loads(_handshake.response_line(parsed))
    return reply


TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


# initialize served as asked, and countered with the latest (test_protocol also opens with
# 2025-03-26); server/discover followed by an enveloped 2026 request.
@pytest.mark.parametrize(
    "messages",
    [
        [initialize("2025-06-18"), INITIALIZED, TOOLS_LIST],
        [initialize("2026-07-28"), INITIALIZED, TOOLS_LIST],
        [discover(), {**TOOLS_LIST, "params": {"_meta": envelope()}}],
    ],
    ids=["initialize-2025-06-18", "initialize-2026-07-28", "discover"],
)
def test_front_answers_then_hands_over(
    data_dir: Path, tmp_path: Path, stdio: Stdio, messages: list[dict[str, Any]]
) -> None:
    """The early answer is the static one; the server checked it against the SDK's reply to
    the same request; requests pipelined behind the opening are served after the handover."""
    log = tmp_path / "stderr.log"
    with log.open("w") as err:
        proc = spawn(stdio(data_dir), err)
        send(proc, *messages)
        assert receive(proc, 1) == expected(messages[0])
        tools = receive(proc, 2)["result"]["tools"]
        assert "create_episode" in {t["name"] for t in tools}
        stderr = finish(proc, log)
    method = messages[0]["method"]
    assert f"{method} {FRONT_LOG}" in stderr and "(matches the SDK)" in stderr, stderr
    assert "differs from the SDK" not in stderr


@pytest.mark.parametrize(
    "opening",
    [
        {"jsonrpc": "2.0", "id": "p", "method": "ping"},
        {**initialize("2025-06-18", request_id="bad"), "params": {"protocolVersion": "2025-06-18"}},
    ],
    ids=["ping", "invalid-initialize"],
)
def test_other_openings_pass_through(
    data_dir: Path, tmp_path: Path, stdio: Stdio, opening: dict[str, Any]
) -> None:
    """A first line the front does not answer reaches the SDK untouched, and a proper
    handshake after it is answered by the SDK itself."""
    log = tmp_path / "stderr.log"
    with log.open("w") as err:
        proc = spawn(stdio(data_dir), err)
        send(proc, opening)
        first = receive(proc, opening["id"])
        assert ("error" in first) == (opening["id"] == "bad"), first
        send(proc, initialize("2025-06-18", request_id=7))
        assert receive(proc, 7) == expected(initialize("2025-06-18", request_id=7))
        send(proc, INITIALIZED, TOOLS_LIST)
        assert receive(proc, 2)["result"]["tools"]
        stderr = finish(proc, log)
    assert FRONT_LOG not in stderr


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_official_client_through_the_front(
    data_dir: Path, tmp_path: Path, stdio: Stdio, mode: Any
) -> None:
    """The official client's opening (server/discover in its default ``auto`` mode,
    initialize in ``legacy``) is answered by the front, and the session then works: create,
    log a step, complete, read it back."""
    params = stdio(data_dir)
    log = tmp_path / "stderr.log"
    with log.open("w") as err:
        async with Client(stdio_client(params, errlog=err), mode=mode) as client:
            created = await client.call_tool(
                "create_episode", {"task_description": "cache the API"}
            )
            assert created.structured_content is not None, created
            episode_id = created.structured_content["episode_id"]
            step = {"episode_id": episode_id, "tool": "pytest", "action": "run tests"}
            assert not (await client.call_tool("add_episode_step", step)).is_error
            done = await client.call_tool(
                "complete_episode",
                {"episode_id": episode_id, "outcome_type": "success", "verdict": "cached"},
            )
            assert not done.is_error, done
            got = await client.call_tool("get_episode", {"episode_id": episode_id})
            assert got.structured_content is not None
            assert len(got.structured_content["steps"]) == 1
    opening = "initialize" if mode == "legacy" else "server/discover"
    assert f"{opening} {FRONT_LOG}" in log.read_text()


def test_cold_start_to_initialize_with_front(
    data_dir: Path, stdio: Stdio, capsys: pytest.CaptureFixture[str]
) -> None:
    """Process start → initialize answer over stdio, with the front and without it. Printed,
    not asserted; MEMORY_MCP_COLD_START_RUNS=10 for numbers worth quoting (median, p95)."""
    runs = int(os.environ.get("MEMORY_MCP_COLD_START_RUNS", "2"))
    report = []
    for label, env in (("front", {}), ("sdk only", {"MEMORY_MCP_FAST_HANDSHAKE": "0"})):
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            proc = spawn(stdio(data_dir, **env), subprocess.DEVNULL)
            send(proc, initialize("2025-06-18"))
            reply = receive(proc, 1)
            samples.append(time.perf_counter() - started)
            assert reply == expected(initialize("2025-06-18"))
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=60)
        samples.sort()
        p95 = samples[round(0.95 * (len(samples) - 1))]
        report.append(f"{label}: median {statistics.median(samples):.3f}s p95 {p95:.3f}s")
    with capsys.disabled():
        print(
            f"\ncold start to initialize (stdio, n={runs}, load {os.getloadavg()[0]:.1f}): "
            + "; ".join(report)
        )


def _fake_sdk(root: Path, release: str, handshake: tuple[str, ...]) -> Path:
    """An installed-looking ``mcp`` release (dist-info + ``mcp_types/version.py``)."""
    (root / f"mcp-{release}.dist-info").mkdir(parents=True)
    (root / "mcp_types").mkdir()
    (root / "mcp_types" / "version.py").write_text(
        "from typing import Final\n"
        f"HANDSHAKE_PROTOCOL_VERSIONS: Final[tuple[str, ...]] = {handshake!r}\n"
        f"MODERN_PROTOCOL_VERSIONS: Final[tuple[str, ...]] = {MODERN_PROTOCOL_VERSIONS!r}\n",
        encoding="utf-8",
    )
    return root


@pytest.mark.parametrize(
    ("release", "handshake", "front_on"),
    [
        ("2.4.1", tuple(HANDSHAKE_PROTOCOL_VERSIONS), True),  # same tables: same answer
        ("2.4.1", (*HANDSHAKE_PROTOCOL_VERSIONS, "2026-01-01"), False),  # a new revision
        ("3.0.0", tuple(HANDSHAKE_PROTOCOL_VERSIONS), False),  # another major release
    ],
)
def test_front_follows_the_installed_sdks_tables(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    release: str,
    handshake: tuple[str, ...],
    front_on: bool,
) -> None:
    """Any 2.x release that negotiates the same versions keeps the fast start; one that
    negotiates others (or a new major) hands the handshake to the SDK."""
    site = _fake_sdk(tmp_path / "site", release, handshake)
    monkeypatch.syspath_prepend(str(site))
    assert _handshake.installed_sdk_version() == release
    assert _handshake.sdk_is_verified() is front_on
