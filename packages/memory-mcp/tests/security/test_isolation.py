"""Tenant isolation through the MCP server over HTTP: two tenants with many episodes each,
two tokens, and every tool, resource, completion and metric checked for the other
tenant's data (ids, text, counts), including error messages.

Each tenant's text carries a marker word (``alphaonly`` / ``betaonly``) over a shared
vocabulary, so any cross-tenant retrieval, listing or count would surface it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.session import IncomingMessage
from mcp.shared.exceptions import MCPError
from mcp.types import PromptReference, ResourceTemplateReference, ResourceUpdatedNotification

pytestmark = pytest.mark.anyio

EPISODES = 30  # per tenant
MARK = {"alpha": "alphaonly", "beta": "betaonly"}
TASKS = [
    "Add rate limiting to the public API endpoint",
    "Fix the flaky login test in the auth service",
    "Migrate the billing tables to the new schema",
    "Speed up the slow search query with an index",
    "Add a health check route to the web app",
]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Tenant:
    name: str
    token: str
    episodes: list[str] = field(default_factory=list)
    patterns: set[str] = field(default_factory=set)
    checkpoint: str | None = None
    pack: dict[str, Any] | None = None
    calls: dict[str, int] = field(default_factory=dict)

    @property
    def mark(self) -> str:
        return MARK[self.name]


@dataclass
class World:
    url: str
    base: str
    tenants: dict[str, Tenant]
    store: Any


@pytest.fixture(scope="module")
def world_server(
    tmp_path_factory: pytest.TempPathFactory, launcher: Any, token_store: Any
) -> Iterator[tuple[Any, Any]]:
    data = tmp_path_factory.mktemp("isolation")
    # Local embeddings on: a leak through the vector index would show too.
    server = launcher(
        data,
        "--auth",
        "token",
        "--token-cache-seconds",
        "0",
        "--tools",
        "full",
        "--rate-limit",
        "0",
        env={"MEMORY_EMBEDDING_PROVIDER": "local"},
    )
    store = token_store(data)
    yield server, store
    store.close()
    server.stop()


async def call(client: Client, tenant: Tenant, name: str, args: dict[str, Any]) -> Any:
    tenant.calls[name] = tenant.calls.get(name, 0) + 1
    return await client.call_tool(name, args)


@pytest.fixture(scope="module")
async def world(world_server: tuple[Any, Any], mcp_connect: Any) -> AsyncIterator[World]:
    server, store = world_server
    tenants = {name: Tenant(name, store.create(name, "admin").token) for name in ("alpha", "beta")}
    for t in tenants.values():
        async with mcp_connect(server.url, t.token) as c:
            for i in range(EPISODES):
                task = f"{TASKS[i % len(TASKS)]} ({t.mark} {i})"
                r = await call(c, t, "create_episode", {
                    "task_description": task, "domain": "web-api", "language": "python",
                    "tags": ["shared", t.mark],
                })  # fmt: skip
                eid = r.structured_content["episode_id"]
                t.episodes.append(eid)
                steps = [
                    {"tool": "read", "action": f"read the code {t.mark}", "result": "found it"},
                    {"tool": "edit", "action": f"change the handler {t.mark}"},
                    {"tool": "pytest", "action": "run the tests",
                     "result": {"type": "success" if i % 3 else "error", "output": t.mark,
                                "message": f"failed {t.mark}"}},
                ]  # fmt: skip
                await call(c, t, "add_episode_step", {"episode_id": eid, "steps": steps})
                if i == EPISODES - 1:
                    cp = await call(c, t, "checkpoint_episode", {
                        "episode_id": eid, "reason": f"handing off {t.mark}",
                    })  # fmt: skip
                    t.checkpoint = cp.structured_content["checkpoint_id"]
                    pack = await call(c, t, "get_handoff_pack", {"checkpoint_id": t.checkpoint})
                    t.pack = pack.structured_content
                    continue  # left in progress: the hand-off is open
                done = await call(c, t, "complete_episode", {
                    "episode_id": eid, "outcome_type": "success" if i % 3 else "failure",
                    "verdict": f"done {t.mark}", "reason": f"broke {t.mark}",
                })  # fmt: skip
                assert not done.is_error, done.content
            analyzed = await call(c, t, "analyze_patterns", {"limit": 100})
            t.patterns = {p["pattern_id"] for p in analyzed.structured_content["patterns"]}
            assert t.patterns, "the workload should produce patterns"
    yield World(server.url, server.base, tenants, store)


def others(world: World, me: Tenant) -> Tenant:
    return next(t for t in world.tenants.values() if t is not me)


def text_of(result: Any) -> str:
    """Everything a client sees of a result or error: content, structured content."""
    if isinstance(result, BaseException):
        return str(result)
    parts = [json.dumps(getattr(result, "structured_content", None) or {}, default=str)]
    for block in getattr(result, "content", None) or []:
        parts.append(getattr(block, "text", "") or "")
    for block in getattr(result, "contents", None) or []:
        parts.append(getattr(block, "text", "") or "")
    return "\n".join(parts)


def assert_clean(text: str, other: Tenant, *, allowed: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    assert other.mark not in text, text[:500]
    for foreign in {*other.episodes, *other.patterns, other.checkpoint or ""} - set(allowed):
        assert not foreign or foreign not in text, f"{foreign} leaked: {text[:500]}"


def normalized(text: str) -> str:
    """An error message with ids replaced, to compare 'foreign id' with 'unknown id'."""
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", text)


@pytest.mark.parametrize("name", ["alpha", "beta"])
async def test_reads_see_only_the_callers_tenant(world: World, name: str, mcp_connect: Any) -> None:
    me = world.tenants[name]
    other = others(world, me)
    async with mcp_connect(world.url, me.token) as c:
        seen: list[str] = []
        cursor = None
        while True:
            args: dict[str, Any] = {"limit": 7} | ({"cursor": cursor} if cursor else {})
            page = (await c.call_tool("list_episodes", args)).structured_content
            assert_clean(json.dumps(page), other)
            seen += [e["id"] for e in page["episodes"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(me.episodes)
        tagged = await c.call_tool("list_episodes", {"filters": {"tags": [other.mark]}})
        assert tagged.structured_content["episodes"] == []

        for task in TASKS:
            q = await c.call_tool("query_memory", {"query": task, "limit": 50})
            got = q.structured_content
            assert got["episodes"], "a shared-vocabulary query finds the caller's episodes"
            assert {e["episode_id"] for e in got["episodes"]} <= set(me.episodes)
            assert {p["pattern_id"] for p in got["patterns"]} <= me.patterns
            assert_clean(text_of(q), other)
        q = await c.call_tool("query_memory", {"query": other.mark, "limit": 50})
        # the other tenant's marker word: ranking still answers, from the caller's tenant only
        assert {e["episode_id"] for e in q.structured_content["episodes"]} <= set(me.episodes)
        assert_clean(text_of(q), other)

        analyzed = await c.call_tool("analyze_patterns", {"limit": 100})
        assert {p["pattern_id"] for p in analyzed.structured_content["patterns"]} == me.patterns
        assert_clean(text_of(analyzed), other)

        playbook = await c.call_tool("recommend_playbook", {"task_description": TASKS[0]})
        assert_clean(text_of(playbook), other)

        metrics = (await c.call_tool("get_metrics", {})).structured_content
        assert metrics["core"]["episodes"] == EPISODES
        assert metrics["core"]["completed_episodes"] == EPISODES - 1
        assert metrics["core"]["steps"] == 3 * EPISODES
        assert metrics["core"]["operations"] == {} and metrics["core"]["cache"] == {}
        assert metrics["tools"]["create_episode"]["calls"] == EPISODES
        assert metrics["tools"]["complete_episode"]["calls"] == EPISODES - 1
        health = (await c.call_tool("health_check", {})).structured_content
        assert health["memory"]["storage"]["detail"] == {}
        assert health["memory"]["queue_depth"] == 0
        # the same answers as resources (the core profile's way to them)
        read = await c.read_resource("memory://metrics")  # type: ignore[arg-type]
        as_resource = json.loads(read.contents[0].text)  # type: ignore[union-attr]
        assert as_resource["core"]["episodes"] == EPISODES
        assert as_resource["core"]["operations"] == {} and as_resource["core"]["cache"] == {}
        assert as_resource["tools"]["create_episode"]["calls"] == EPISODES
        read = await c.read_resource("memory://health")  # type: ignore[arg-type]
        assert json.loads(read.contents[0].text)["memory"]["storage"]["detail"] == {}  # type: ignore[union-attr]

        recent = await c.read_resource("memory://episodes")  # type: ignore[arg-type]
        listed = json.loads(recent.contents[0].text)["episodes"]  # type: ignore[union-attr]
        assert {e["id"] for e in listed} <= set(me.episodes) and listed
        done = await c.complete(
            ResourceTemplateReference(type="ref/resource", uri="memory://episodes/{episode_id}"),
            {"name": "episode_id", "value": ""},
        )
        assert set(done.completion.values) <= set(me.episodes) and done.completion.values
        pats = await c.complete(
            ResourceTemplateReference(type="ref/resource", uri="memory://patterns/{pattern_id}"),
            {"name": "pattern_id", "value": ""},
        )
        assert set(pats.completion.values) <= me.patterns
        domains = await c.complete(
            PromptReference(type="ref/prompt", name="memory_workflow"),
            {"name": "domain", "value": ""},
        )
        assert domains.completion.values == ["web-api"]

    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.get(f"{world.base}/metrics", headers={"Authorization": f"Bearer {me.token}"})
        assert r.status_code == 200
        assert f"memory_core_episodes {EPISODES}" in r.text
        assert f'memory_mcp_tool_calls_total{{tool="create_episode"}} {EPISODES}' in r.text
        samples = [ln for ln in r.text.splitlines() if ln and not ln.startswith("#")]
        process_wide = ("memory_core_operation", "memory_core_cache")
        assert not [ln for ln in samples if ln.startswith(process_wide)]
        assert "memory_core_queue_depth 0" in samples


@pytest.mark.parametrize("name", ["alpha", "beta"])
async def test_foreign_ids_look_exactly_like_unknown_ids(
    world: World, name: str, mcp_connect: Any
) -> None:
    me = world.tenants[name]
    other = others(world, me)
    foreign, unknown = other.episodes[0], str(uuid.uuid4())
    foreign_pattern = sorted(other.patterns)[0]
    probes = [
        ("get_episode", lambda e: {"episode_id": e}),
        ("add_episode_step", lambda e: {"episode_id": e, "tool": "t", "action": me.mark}),
        ("complete_episode", lambda e: {"episode_id": e, "outcome_type": "success"}),
        ("delete_episode", lambda e: {"episode_id": e, "confirm": True}),
        ("checkpoint_episode", lambda e: {"episode_id": e}),
        ("record_pattern_outcome", lambda e: {"pattern_id": foreign_pattern, "episode_id": e,
                                              "success": True}),
    ]  # fmt: skip
    async with mcp_connect(world.url, me.token) as c:
        for tool, args in probes:
            a = await c.call_tool(tool, args(foreign))
            b = await c.call_tool(tool, args(unknown))
            assert a.is_error and b.is_error, (tool, text_of(a))
            assert normalized(text_of(a)) == normalized(text_of(b)), tool
            assert_clean(text_of(a), other, allowed={foreign, foreign_pattern})
        a = await c.call_tool("get_handoff_pack", {"checkpoint_id": other.checkpoint})
        b = await c.call_tool("get_handoff_pack", {"checkpoint_id": str(uuid.uuid4())})
        assert a.is_error and normalized(text_of(a)) == normalized(text_of(b))
        for uri in (f"memory://episodes/{foreign}", f"memory://patterns/{foreign_pattern}"):
            with pytest.raises(MCPError) as refused:
                await c.read_resource(uri)  # type: ignore[arg-type]
            assert other.mark not in str(refused.value)
            unknown_uri = uri.rsplit("/", 1)[0] + f"/{uuid.uuid4()}"
            with pytest.raises(MCPError) as missing:
                await c.read_resource(unknown_uri)  # type: ignore[arg-type]
            assert normalized(str(refused.value)) == normalized(str(missing.value))


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _resolve(defs[ref.rsplit("/", 1)[-1]], defs)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"]
            return _resolve(options[0], defs) if options else {"type": "null"}
    return schema


def probe_value(name: str, schema: dict[str, Any], defs: dict[str, Any], other: Tenant) -> Any:
    """A value for one argument: the other tenant's id for every id-like argument."""
    s = _resolve(schema, defs)
    lowered = name.lower()
    if lowered.endswith("_ids") or lowered.endswith("_id"):
        target = (
            sorted(other.patterns)[0]
            if "pattern" in lowered
            else other.checkpoint
            if "checkpoint" in lowered
            else other.episodes[1]
        )
        return [target] if s.get("type") == "array" else target
    if lowered == "handoff_pack":
        return other.pack
    if "enum" in s:
        return s["enum"][0]
    kind = s.get("type")
    if kind == "string":
        return "probe"
    if kind in ("integer", "number"):
        return max(1, s.get("minimum", 1))
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        props = s.get("properties", {})
        return {
            k: probe_value(k, v, defs, other)
            for k, v in props.items()
            if k in s.get("required", [])
        }
    return None


async def snapshot(client: Client, tenant: Tenant) -> str:
    parts = []
    for eid in tenant.episodes:
        got = await client.call_tool("get_episode", {"episode_id": eid})
        assert not got.is_error
        parts.append(json.dumps(got.structured_content, sort_keys=True))
    analyzed = await client.call_tool("analyze_patterns", {"limit": 100})
    parts.append(json.dumps(analyzed.structured_content["patterns"], sort_keys=True))
    for tool in ("get_tag_statistics",):
        parts.append(text_of(await client.call_tool(tool, {})))
    return "\n".join(parts)


async def test_every_tool_with_foreign_ids_neither_leaks_nor_writes(
    world: World, mcp_connect: Any
) -> None:
    """Every tool, its id arguments pointing at the other tenant (admin token, so scope
    does not stop it first): no response names the other tenant's text or ids beyond
    those sent, and the other tenant's episodes and patterns are unchanged afterwards."""
    me, other = world.tenants["alpha"], world.tenants["beta"]
    async with mcp_connect(world.url, other.token) as oc:
        before = await snapshot(oc, other)
    sent_ids = {other.episodes[1], sorted(other.patterns)[0], other.checkpoint or ""}
    async with mcp_connect(world.url, me.token) as c:
        tools = (await c.list_tools()).tools
        assert len(tools) >= 20
        for tool in tools:
            schema = tool.input_schema
            defs = schema.get("$defs", {})
            args = {
                k: probe_value(k, v, defs, other)
                for k, v in schema.get("properties", {}).items()
                if k in schema.get("required", []) or k.endswith("_id") or k == "handoff_pack"
            }
            if tool.name == "resume_from_handoff":
                by_id = await c.call_tool(tool.name, {"checkpoint_id": other.checkpoint})
                assert by_id.is_error
                assert_clean(text_of(by_id), other, allowed=sent_ids)
                # A pack is self-contained (the caller holds its text already): it may
                # start a new episode in the caller's tenant, never continue the other's.
                by_pack = await c.call_tool(tool.name, {"handoff_pack": other.pack})
                if not by_pack.is_error:
                    assert by_pack.structured_content["continued"] is False
                    assert by_pack.structured_content["episode_id"] not in other.episodes
                continue
            try:
                result: Any = await c.call_tool(tool.name, args)
            except MCPError as exc:
                result = exc
            assert_clean(text_of(result), other, allowed=sent_ids)
    async with mcp_connect(world.url, other.token) as oc:
        after = await snapshot(oc, other)
    assert after == before


@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
async def test_resource_updates_reach_only_the_changing_tenant(
    world: World, mcp_connect: Any
) -> None:
    """alpha subscribes to its own episode and (knowing the id) to one of beta's; beta
    changes its episode, then alpha changes its own. Both updates would travel on alpha's
    one stream in that order, so the first update alpha gets must be its own."""
    alpha, beta = world.tenants["alpha"], world.tenants["beta"]
    mine, theirs = (
        f"memory://episodes/{alpha.episodes[-1]}",
        f"memory://episodes/{beta.episodes[-1]}",
    )
    updates: list[str] = []
    got = anyio.Event()

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updates.append(str(message.params.uri))
            got.set()

    async with (
        mcp_connect(world.url, alpha.token, mode="legacy", message_handler=on_message) as a,
        mcp_connect(world.url, beta.token, mode="legacy") as b,
    ):
        await a.subscribe_resource(mine)  # type: ignore[arg-type]
        await a.subscribe_resource(theirs)  # type: ignore[arg-type]
        await a.subscribe_resource("memory://episodes")  # type: ignore[arg-type]
        await b.subscribe_resource(theirs)  # type: ignore[arg-type]
        await b.call_tool("add_episode_step", {"episode_id": beta.episodes[-1], "tool": "t"})
        await b.call_tool("create_episode", {"task_description": f"new {beta.mark}"})
        await a.call_tool("add_episode_step", {"episode_id": alpha.episodes[-1], "tool": "t"})
        with anyio.fail_after(30):
            await got.wait()
        assert updates[0] == mine, updates
        assert theirs not in updates and "memory://episodes" not in updates
