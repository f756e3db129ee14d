"""Fuzz: hypothesis-generated arguments for every MCP tool against a live HTTP server
(wrong types, huge strings, deep JSON, unicode, nulls, negative and huge numbers, known
and unknown ids, missing and extra fields). Each call must end in a result or a clear
error (no traceback text, never empty), the server must stay up, and a refused step
batch must leave its episode unchanged (nothing half-written).

More examples per tool::

    FUZZ_EXAMPLES=200 uv run pytest packages/memory-mcp/tests/security/test_fuzz.py -q
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import anyio.from_thread
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp.shared.exceptions import MCPError
from memory_core import MemoryConfig, SelfLearningMemory

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, launcher: Any, token_store: Any, mcp_connect: Any
) -> Iterator[dict[str, Any]]:
    """A server, an admin client on a blocking portal (hypothesis tests are sync), and a
    few real ids to aim at."""
    data = tmp_path_factory.mktemp("fuzz")
    server = launcher(data, "--auth", "token", "--rate-limit", "0", "--tools", "full")
    store = token_store(data)
    token = store.create("fuzz", "admin").token
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(mcp_connect(server.url, token, timeout=120)) as client,
    ):
        ids: dict[str, list[str]] = {"episode": [], "pattern": [], "checkpoint": []}
        for i in range(3):
            r = portal.call(client.call_tool, "create_episode", {"task_description": f"seed {i}"})
            eid = r.structured_content["episode_id"]
            ids["episode"].append(eid)
            portal.call(
                client.call_tool,
                "add_episode_step",
                {"episode_id": eid, "steps": [{"tool": "read"}, {"tool": "edit"}]},
            )
            if i < 2:
                done = portal.call(
                    client.call_tool,
                    "complete_episode",
                    {"episode_id": eid, "outcome_type": "success"},
                )
                ids["pattern"] += [p["pattern_id"] for p in done.structured_content["patterns"]]
        cp = portal.call(client.call_tool, "checkpoint_episode", {"episode_id": ids["episode"][2]})
        ids["checkpoint"].append(cp.structured_content["checkpoint_id"])
        tools = portal.call(client.list_tools).tools
        yield {"server": server, "portal": portal, "client": client, "ids": ids, "tools": tools,
               "data": data, "token": token}  # fmt: skip
    store.close()
    server.stop()


def deep(depth: int) -> Any:
    value: Any = "bottom"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def garbage(ids: dict[str, list[str]]) -> st.SearchStrategy[Any]:
    every_id = [i for group in ids.values() for i in group]
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=40),
        st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20),
        st.sampled_from(["", " ", "\x00", "null", "'; DROP TABLE episodes; --", "🧠" * 50]),
        st.sampled_from(every_id),
        st.builds(lambda: str(uuid.uuid4())),
        st.integers(min_value=10_000, max_value=300_000).map(lambda n: "x" * n),
        st.integers(min_value=20, max_value=200).map(deep),  # deeper: see the raw test
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)
        ),
        max_leaves=8,
    )


def plausible(
    name: str, schema: dict[str, Any], ids: dict[str, list[str]]
) -> st.SearchStrategy[Any]:
    """Mostly-valid values, so fuzzing reaches past argument validation."""
    lowered = name.lower()
    for kind in ("pattern", "checkpoint"):
        if kind in lowered and lowered.endswith("_id"):
            return st.sampled_from(ids[kind] + [str(uuid.uuid4())])
    if lowered.endswith("_id"):
        return st.sampled_from(ids["episode"] + [str(uuid.uuid4())])
    kind = schema.get("type")
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if kind == "string":
        return st.text(min_size=1, max_size=60)
    if kind == "integer":
        return st.integers(min_value=-5, max_value=1000)
    if kind == "number":
        return st.floats(min_value=-1, max_value=1e6, allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(st.text(min_size=1, max_size=20), max_size=4)
    return st.none()


def arguments(tool: Any, ids: dict[str, list[str]]) -> st.SearchStrategy[dict[str, Any]]:
    props: dict[str, Any] = tool.input_schema.get("properties", {})
    fields = {
        name: st.one_of(plausible(name, schema, ids), garbage(ids))
        for name, schema in props.items()
    }
    extra = st.dictionaries(st.text(min_size=1, max_size=12), garbage(ids), max_size=2)
    return st.fixed_dictionaries({}, optional=fields).flatmap(
        lambda chosen: extra.map(lambda more: {**more, **chosen})
    )


def step_counts(data: Any, tenant: str = "fuzz") -> dict[str, int]:
    memory = SelfLearningMemory.from_config(
        MemoryConfig(
            database_url=f"file:{data / 'memory.db'}",
            cache_backend="none",
            embedding_provider="none",
        )
    )
    try:
        page = memory.list_episodes(None, 500, tenant=tenant)
        return {str(s.id): s.step_count for s in page.items}
    finally:
        memory.close()


def test_every_tool_survives_generated_arguments(live: dict[str, Any]) -> None:
    portal, client, ids, server = live["portal"], live["client"], live["ids"], live["server"]
    tools = live["tools"]
    assert len(tools) >= 15
    answered: dict[str, int] = {}

    def fuzzer(tool: Any) -> Any:
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(args=arguments(tool, ids))
        def fuzz(args: dict[str, Any]) -> None:
            watched = args.get("episode_id") if tool.name == "add_episode_step" else None
            before = step_counts(live["data"]) if watched in ids["episode"] else None
            try:
                result = portal.call(client.call_tool, tool.name, args)
                text = " ".join(getattr(b, "text", "") or "" for b in result.content)
                if result.is_error:
                    assert text.strip(), f"{tool.name}: empty error"
                    if before is not None:  # a refused call wrote nothing
                        assert step_counts(live["data"]) == before, (tool.name, args)
            except MCPError as exc:
                text = exc.message
                assert text.strip(), f"{tool.name}: empty JSON-RPC error"
            assert "Traceback" not in text, text[:400]
            assert server.proc.poll() is None, "server died"
            answered[tool.name] = answered.get(tool.name, 0) + 1

        return fuzz

    for tool in tools:
        fuzzer(tool)()

    assert set(answered) == {t.name for t in tools}
    health = portal.call(client.call_tool, "health_check", {})
    assert not health.is_error and health.structured_content["ok"]
    memory = SelfLearningMemory.from_config(
        MemoryConfig(
            database_url=f"file:{live['data'] / 'memory.db'}",
            cache_backend="none",
            embedding_provider="none",
        )
    )
    try:
        assert memory.storage.integrity_check()["ok"]  # type: ignore[attr-defined]
        page = memory.list_episodes(None, 500, tenant="fuzz")
        for summary in page.items:  # every stored episode reads back whole
            assert memory.get_episode(summary.id, tenant="fuzz").id == summary.id
    finally:
        memory.close()
    assert "Traceback" not in server.stderr, server.stderr[-3000:]


def test_json_deeper_than_any_client_sends(live: dict[str, Any]) -> None:
    """10 000 levels of nesting, sent as raw JSON-RPC (SDK clients refuse to serialize it):
    a clear error, and the server stays up."""
    import httpx

    server, token = live["server"], live["token"]
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "Authorization": f"Bearer {token}",
    }
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "deep", "version": "0"}}}  # fmt: skip
    depth = 10_000
    nested = "[" * depth + "]" * depth
    call = (
        '{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": '
        '"create_episode", "arguments": {"task_description": "deep", "metadata": {"x": '
        + nested
        + "}}}}"
    )
    with httpx.Client(timeout=60) as http:
        r = http.post(server.url, json=init, headers=headers)
        assert r.status_code == 200
        session = {**headers, "Mcp-Session-Id": r.headers["mcp-session-id"]}
        http.post(
            server.url,
            json={"jsonrpc": "2.0", "method": "notifications/initialized"},
            headers=session,
        )
        r = http.post(server.url, content=call.encode(), headers=session)
        assert r.status_code in (200, 400), r.status_code
        assert "error" in r.text.lower() and "Traceback" not in r.text
        assert server.proc.poll() is None
        again = http.post(
            server.url,
            json={"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                  "params": {"name": "health_check", "arguments": {}}},
            headers=session,
        )  # fmt: skip
        assert again.status_code == 200 and '"ok":true' in again.text.replace(" ", "")
