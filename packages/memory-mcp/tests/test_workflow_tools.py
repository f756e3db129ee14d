"""Workflow tools through a real MCP client over stdio: tags, relationships, checkpoints
and hand-off, playbooks, the full tool list with its annotations, and errors that name
the argument. One ``memory-mcp --tools full`` process on a libSQL file serves the module
(each test uses its own episodes, tags and words, so they do not see each other)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

pytestmark = pytest.mark.anyio
MISSING = str(uuid.UUID(int=7))

CORE_TOOLS = {
    "create_episode",
    "add_episode_step",
    "complete_episode",
    "record_episode",
    "get_episode",
    "list_episodes",
    "delete_episode",
    "query_memory",
    "record_pattern_outcome",
    "checkpoint_episode",
    "get_handoff_pack",
    "resume_from_handoff",
    "recommend_playbook",
}
FULL_ONLY = {
    "analyze_patterns",
    "update_episode",
    "health_check",
    "get_metrics",
    "add_episode_tags",
    "remove_episode_tags",
    "set_episode_tags",
    "get_episode_tags",
    "search_episodes_by_tags",
    "get_tag_statistics",
    "add_episode_relationship",
    "remove_episode_relationship",
    "get_episode_relationships",
    "find_related_episodes",
    "get_dependency_graph",
    "validate_no_cycles",
    "get_topological_order",
    "explain_pattern",
    "record_recommendation_feedback",
    "get_recommendation_stats",
}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def client(
    tmp_path_factory: pytest.TempPathFactory, stdio: Callable[..., StdioServerParameters]
) -> AsyncIterator[Client]:
    data: Path = tmp_path_factory.mktemp("workflow-data")
    async with Client(stdio(data, "--tools", "full")) as c:
        yield c


async def ok(c: Client, tool: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    result = await c.call_tool(tool, args or {})
    assert not result.is_error, (tool, result.content)
    assert result.structured_content is not None
    return result.structured_content


async def error_text(c: Client, tool: str, args: dict[str, Any]) -> str:
    result = await c.call_tool(tool, args)
    text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
    assert result.is_error, f"{tool}({args}) should fail, got {result.structured_content}"
    assert "Traceback" not in text
    return text


async def episode(c: Client, task: str, **extra: Any) -> str:
    created = await ok(c, "create_episode", {"task_description": task, **extra})
    return str(created["episode_id"])


async def test_full_profile_lists_every_tool_with_schemas_and_annotations(c: Client) -> None:
    tools = {t.name: t for t in (await c.list_tools()).tools}
    assert set(tools) == CORE_TOOLS | FULL_ONLY
    for name in FULL_ONLY | {"checkpoint_episode", "get_handoff_pack", "resume_from_handoff"}:
        t = tools[name]
        assert t.description and len(t.description) <= 100, (name, t.description)
        assert t.output_schema is not None, name
        assert t.annotations is not None and t.annotations.read_only_hint is not None, name
    read_only = {n for n, t in tools.items() if t.annotations and t.annotations.read_only_hint}
    assert {
        "get_episode_tags",
        "search_episodes_by_tags",
        "get_tag_statistics",
        "get_episode_relationships",
        "find_related_episodes",
        "get_dependency_graph",
        "validate_no_cycles",
        "get_topological_order",
        "get_handoff_pack",
        "recommend_playbook",
        "explain_pattern",
        "get_recommendation_stats",
    } <= read_only
    assert not read_only & {"add_episode_tags", "checkpoint_episode", "resume_from_handoff"}
    remove = tools["remove_episode_relationship"].annotations
    assert remove is not None and remove.destructive_hint is True
    add_tags = tools["add_episode_tags"].annotations
    assert add_tags is not None and add_tags.idempotent_hint is True
    schema = tools["add_episode_relationship"].input_schema
    assert set(schema["required"]) == {"from_episode_id", "to_episode_id", "relationship_type"}
    assert schema["properties"]["priority"]["maximum"] == 10
    assert tools["add_episode_tags"].input_schema["properties"]["tags"]["maxItems"] == 32


@pytest.fixture
def c(client: Client) -> Client:
    return client


async def test_tags_add_remove_set_search_and_statistics(c: Client) -> None:
    a = await episode(c, "Tune the parser cache", tags=["tg-parser"])
    b = await episode(c, "Tune the lexer cache")
    added = await ok(c, "add_episode_tags", {"episode_id": a, "tags": ["tg-perf", "tg-parser"]})
    assert added == {
        "episode_id": a,
        "current_tags": ["tg-parser", "tg-perf"],
        "added": ["tg-perf"],
        "removed": [],
    }
    await ok(c, "add_episode_tags", {"episode_id": b, "tags": ["tg-perf", " tg-lexer "]})
    assert (await ok(c, "get_episode_tags", {"episode_id": b}))["tags"] == ["tg-perf", "tg-lexer"]
    removed = await ok(c, "remove_episode_tags", {"episode_id": b, "tags": ["tg-lexer", "nope"]})
    assert removed["current_tags"] == ["tg-perf"] and removed["removed"] == ["tg-lexer"]

    anyof = await ok(c, "search_episodes_by_tags", {"tags": ["tg-parser", "tg-perf"]})
    assert {e["id"] for e in anyof["episodes"]} == {a, b} and anyof["count"] == 2
    allof = await ok(
        c, "search_episodes_by_tags", {"tags": ["tg-parser", "tg-perf"], "require_all": True}
    )
    assert [e["id"] for e in allof["episodes"]] == [a]
    page = await ok(c, "search_episodes_by_tags", {"tags": ["tg-parser", "tg-perf"], "limit": 1})
    assert page["count"] == 1 and page["next_cursor"]
    rest = await ok(
        c,
        "search_episodes_by_tags",
        {"tags": ["tg-parser", "tg-perf"], "limit": 1, "cursor": page["next_cursor"]},
    )
    assert {page["episodes"][0]["id"], rest["episodes"][0]["id"]} == {a, b}

    stats = {s["tag"]: s for s in (await ok(c, "get_tag_statistics", {"limit": 1000}))["tags"]}
    assert stats["tg-perf"]["count"] == 2 and stats["tg-parser"]["count"] == 1
    assert stats["tg-lexer"]["count"] == 0 and stats["tg-lexer"]["last_used"]

    cleared = await ok(c, "set_episode_tags", {"episode_id": a, "tags": []})
    assert cleared["current_tags"] == [] and set(cleared["removed"]) == {"tg-parser", "tg-perf"}
    # Tags are part of the episode itself: get_episode and list filters see them.
    await ok(c, "set_episode_tags", {"episode_id": a, "tags": ["tg-final"]})
    full = await ok(c, "get_episode", {"episode_id": a})
    assert full["context"]["tags"] == ["tg-final"]
    listed = await ok(c, "list_episodes", {"filters": {"tags": ["tg-final"]}})
    assert [e["id"] for e in listed["episodes"]] == [a]

    t = await error_text(c, "add_episode_tags", {"episode_id": a, "tags": ["a,b"]})
    assert "tags[0]" in t and "comma" in t
    t = await error_text(c, "add_episode_tags", {"episode_id": a, "tags": []})
    assert "tags" in t
    t = await error_text(c, "set_episode_tags", {"episode_id": a, "tags": ["x"] * 33})
    assert "tags" in t and "32" in t
    t = await error_text(c, "get_episode_tags", {"episode_id": MISSING})
    assert "not found" in t and MISSING in t


async def test_relationships_graph_cycles_and_order(c: Client) -> None:
    ids = [await episode(c, f"Release step {n}") for n in ("plan", "build", "test", "ship")]
    plan, build, test, ship = ids
    link = await ok(
        c,
        "add_episode_relationship",
        {
            "from_episode_id": build,
            "to_episode_id": plan,
            "relationship_type": "depends_on",
            "reason": "needs the plan",
            "priority": 8,
        },
    )
    assert link["relationship_id"] == f"{build}:depends_on:{plan}"
    assert link["from_episode_id"] == build and link["priority"] == 8
    await ok(c, "add_episode_relationship", {"from_episode_id": test, "to_episode_id": build,
                                             "relationship_type": "depends_on"})  # fmt: skip
    await ok(c, "add_episode_relationship", {"from_episode_id": test, "to_episode_id": ship,
                                             "relationship_type": "blocks"})  # fmt: skip
    await ok(c, "add_episode_relationship", {"from_episode_id": ship, "to_episode_id": plan,
                                             "relationship_type": "references"})  # fmt: skip

    # A link that would close a cycle: refused, naming the argument and the cycle.
    t = await error_text(c, "add_episode_relationship", {"from_episode_id": plan,
                         "to_episode_id": test, "relationship_type": "depends_on"})  # fmt: skip
    assert "to_episode_id" in t and "cycle" in t and plan in t
    check = await ok(c, "validate_no_cycles", {"from_episode_id": plan, "to_episode_id": test,
                                               "relationship_type": "depends_on"})  # fmt: skip
    assert check["acyclic"] is True and check["would_create_cycle"] is True
    assert check["cycle_path"][0] == check["cycle_path"][-1]
    assert set(check["cycle_path"]) == {plan, build, test}
    fine = await ok(c, "validate_no_cycles", {"from_episode_id": plan, "to_episode_id": test,
                                              "relationship_type": "related_to"})  # fmt: skip
    assert fine["would_create_cycle"] is False and fine["cycle_path"] is None
    t = await error_text(c, "validate_no_cycles", {"from_episode_id": plan})
    assert "to_episode_id" in t

    rels = await ok(c, "get_episode_relationships", {"episode_id": build})
    assert [r["to_episode_id"] for r in rels["outgoing"]] == [plan]
    assert [r["from_episode_id"] for r in rels["incoming"]] == [test]
    assert rels["total_count"] == 2
    only_in = await ok(c, "get_episode_relationships", {"episode_id": build,
                                                         "direction": "incoming"})  # fmt: skip
    assert only_in["outgoing"] == [] and len(only_in["incoming"]) == 1

    near = await ok(c, "find_related_episodes", {"episode_id": test, "depth": 1})
    assert {r["episode_id"] for r in near["related_episodes"]} == {build, ship}
    far = await ok(c, "find_related_episodes", {"episode_id": test, "depth": 2,
                                                "relationship_type": "depends_on"})  # fmt: skip
    by_id = {r["episode_id"]: r for r in far["related_episodes"]}
    assert set(by_id) == {build, plan} and by_id[plan]["depth"] == 2
    assert by_id[plan]["path"] == [test, build, plan]

    graph = await ok(c, "get_dependency_graph", {"episode_id": plan, "depth": 3})
    assert graph["node_count"] == 4 and graph["edge_count"] == 4 and graph["dot"] is None
    assert {n["id"] for n in graph["nodes"]} == set(ids)
    dot = await ok(c, "get_dependency_graph", {"episode_id": plan, "format": "dot"})
    assert dot["dot"].startswith("digraph episodes {") and dot["nodes"] == []
    assert f'"{build}" -> "{plan}"' in dot["dot"] and "style=dashed" in dot["dot"]

    order = await ok(c, "get_topological_order", {"episode_ids": ids})
    position = {o["episode_id"]: o["position"] for o in order["order"]}
    assert order["has_cycles"] is False and order["count"] == 4
    assert position[plan] < position[build] < position[test] < position[ship]
    assert order["order"][0]["task_description"] == "Release step plan"

    t = await error_text(c, "get_topological_order", {"relationship_types": ["references"]})
    assert "relationship_types" in t
    t = await error_text(c, "add_episode_relationship", {"from_episode_id": plan,
                         "to_episode_id": plan, "relationship_type": "related_to"})  # fmt: skip
    assert "to_episode_id" in t and "itself" in t
    t = await error_text(c, "add_episode_relationship", {"from_episode_id": plan,
                         "to_episode_id": test, "relationship_type": "kinda"})  # fmt: skip
    assert "relationship_type" in t and "depends_on" in t
    t = await error_text(c, "add_episode_relationship", {"from_episode_id": plan,
                         "to_episode_id": MISSING, "relationship_type": "related_to"})  # fmt: skip
    assert "not found" in t and MISSING in t

    rid = f"{test}:blocks:{ship}"
    assert await ok(c, "remove_episode_relationship", {"relationship_id": rid}) == {
        "relationship_id": rid,
        "removed": True,
    }
    t = await error_text(c, "remove_episode_relationship", {"relationship_id": rid})
    assert "not found" in t
    # Deleting an episode removes its links.
    await ok(c, "delete_episode", {"episode_id": build, "confirm": True})
    assert (await ok(c, "get_episode_relationships", {"episode_id": plan}))["total_count"] == 1


async def test_checkpoint_handoff_and_resume_in_one_process(c: Client) -> None:
    eid = await episode(c, "Migrate the billing tables to the new schema", domain="db-hand")
    steps = [
        {"tool": "psql", "action": "inspect tables", "result": "12 tables"},
        {"tool": "alembic", "action": "generate migration",
         "result": {"type": "error", "message": "duplicate column"}},
        {"tool": "editor", "action": "fix migration"},
    ]  # fmt: skip
    await ok(c, "add_episode_step", {"episode_id": eid, "steps": steps})
    cp = await ok(c, "checkpoint_episode", {"episode_id": eid, "reason": "context full",
                                            "note": "Is the index needed?"})  # fmt: skip
    assert cp["episode_id"] == eid and cp["step_count"] == 3 and cp["last_step_number"] == 3
    pack = await ok(c, "get_handoff_pack", {"checkpoint_id": cp["checkpoint_id"]})
    assert pack["goal"] == "Migrate the billing tables to the new schema"
    assert [s["tool"] for s in pack["done"]] == ["psql", "alembic", "editor"]
    assert [s["step_number"] for s in pack["failed"]] == [2]
    assert any("index needed" in q for q in pack["open_questions"])
    assert any("alembic" in q for q in pack["open_questions"])

    await ok(c, "add_episode_step", {"episode_id": eid, "tool": "alembic", "action": "upgrade"})
    resumed = await ok(c, "resume_from_handoff", {"checkpoint_id": cp["checkpoint_id"]})
    assert resumed["continued"] is True and resumed["episode_id"] == eid
    assert resumed["next_step_number"] == 5
    assert [s["step_number"] for s in resumed["steps_since_checkpoint"]] == [4]
    # The pack itself works too (it is self-contained).
    again = await ok(c, "resume_from_handoff", {"handoff_pack": pack})
    assert again["continued"] is True and again["next_step_number"] == 5

    await ok(c, "complete_episode", {"episode_id": eid, "outcome_type": "success"})
    after = await ok(c, "resume_from_handoff", {"handoff_pack": pack})
    assert after["continued"] is False and after["previous_episode_id"] == eid
    assert after["next_step_number"] == 1 and after["episode_id"] != eid
    rels = await ok(c, "get_episode_relationships", {"episode_id": after["episode_id"]})
    assert [(r["relationship_type"], r["to_episode_id"]) for r in rels["outgoing"]] == [
        ("follows", eid)
    ]

    t = await error_text(c, "checkpoint_episode", {"episode_id": eid})
    assert "conflict" in t and "completed" in t
    t = await error_text(c, "get_handoff_pack", {"checkpoint_id": "nope"})
    assert "checkpoint not found" in t
    t = await error_text(c, "resume_from_handoff", {})
    assert "checkpoint_id" in t
    bad = {k: v for k, v in pack.items() if k != "goal"}
    t = await error_text(c, "resume_from_handoff", {"handoff_pack": bad})
    assert "handoff_pack.goal" in t
    t = await error_text(c, "checkpoint_episode", {"episode_id": eid, "reason": "r" * 513})
    assert "reason" in t and "512" in t


async def test_playbook_explain_and_feedback(c: Client) -> None:
    for i in range(3):
        eid = await episode(c, f"Provision the kafka cluster number {i}", domain="stream-pb")
        steps = [{"tool": t, "action": f"{t} for cluster {i}", "result": "ok"}
                 for t in ("terraform", "ansible", "kcat")]  # fmt: skip
        await ok(c, "add_episode_step", {"episode_id": eid, "steps": steps})
        await ok(c, "complete_episode", {"episode_id": eid, "outcome_type": "success"})
    current = await episode(c, "Provision the kafka cluster for billing", domain="stream-pb")
    pb = await ok(c, "recommend_playbook", {"task_description": "Provision the kafka cluster",
                  "domain": "stream-pb", "max_steps": 5, "episode_id": current})  # fmt: skip
    assert [s["tool"] for s in pb["steps"] if s["kind"] == "do"][:3] == [
        "terraform",
        "ansible",
        "kcat",
    ]
    assert len(pb["steps"]) <= 5 and pb["session_id"]
    first = pb["steps"][0]
    assert first["order"] == 1 and first["evidence_pattern_ids"] and 0 < first["confidence"] <= 1
    pid = first["evidence_pattern_ids"][0]

    explained = await ok(c, "explain_pattern", {"pattern_id": pid})
    assert explained["pattern_id"] == pid and explained["observed_support"] == 3
    assert "Applies when" in explained["text"] and len(explained["source_episodes"]) == 3

    fb = await ok(c, "record_recommendation_feedback", {"episode_id": current,
                  "applied_pattern_ids": [pid], "rating": 4})  # fmt: skip
    assert fb["applied_pattern_ids"] == [pid] and fb["success"] is None
    assert fb["recommended_pattern_ids"] == pb["pattern_ids"]
    await ok(c, "complete_episode", {"episode_id": current, "outcome_type": "success"})
    stats = await ok(c, "get_recommendation_stats", {})
    per = {p["pattern_id"]: p for p in stats["patterns"]}
    assert per[pid]["applied"] == 1 and per[pid]["applied_successes"] == 1
    assert stats["average_rating"] == 4.0 and stats["episodes_with_feedback"] >= 1

    t = await error_text(c, "explain_pattern", {"pattern_id": MISSING})
    assert "not found" in t
    t = await error_text(c, "recommend_playbook", {"task_description": "x", "max_steps": 51})
    assert "max_steps" in t and "50" in t
    t = await error_text(c, "record_recommendation_feedback", {"episode_id": current,
                         "applied_pattern_ids": [MISSING]})  # fmt: skip
    assert "not found" in t and MISSING in t
    t = await error_text(c, "record_recommendation_feedback", {"episode_id": current,
                         "applied_pattern_ids": [], "rating": 9})  # fmt: skip
    assert "rating" in t


async def test_a_pattern_that_keeps_failing_sinks_and_the_playbook_changes(c: Client) -> None:
    task = "Deploy the web service to staging"
    ctx = {"domain": "deploy-fb"}

    async def run(name: str, tools: list[str]) -> None:
        eid = await episode(c, name, **ctx)
        steps = [{"tool": t, "action": f"{t}: {name}", "result": "ok"} for t in tools]
        await ok(c, "add_episode_step", {"episode_id": eid, "steps": steps})
        await ok(c, "complete_episode", {"episode_id": eid, "outcome_type": "success"})

    for i in range(6):
        await run(f"{task}, attempt {i}", ["build", "push", "deploy"])
    for i in range(4):
        await run(f"{task}, variant {i}", ["build", "deploy", "verify"])

    async def backbone(for_episode: str | None = None) -> tuple[str, list[str]]:
        args: dict[str, Any] = {"task_description": task, **ctx}
        if for_episode:
            args["episode_id"] = for_episode
        pb = await ok(c, "recommend_playbook", args)
        do = [s for s in pb["steps"] if s["kind"] == "do"]
        return do[0]["evidence_pattern_ids"][0], [s["tool"] for s in do]

    first, tools = await backbone()
    assert tools == ["build", "push", "deploy"]
    chosen: list[bool] = []
    for i in range(12):
        eid = await episode(c, f"{task} round {i}", **ctx)
        await ok(c, "add_episode_step", {"episode_id": eid, "tool": "note"})
        pid, tools = await backbone(eid)
        works = tools == ["build", "deploy", "verify"]
        await ok(c, "record_recommendation_feedback", {"episode_id": eid,
                 "applied_pattern_ids": [pid], "rating": 5 if works else 1})  # fmt: skip
        outcome = (
            {"outcome_type": "success", "verdict": "up"}
            if works
            else {"outcome_type": "failure", "reason": "rollout failed"}
        )
        await ok(c, "complete_episode", {"episode_id": eid, **outcome})
        chosen.append(works)
    assert not chosen[0] and all(chosen[-6:]), chosen
    good, _ = await backbone()
    assert good != first
    stats = await ok(c, "get_recommendation_stats", {"limit": 1000})
    per = {p["pattern_id"]: p for p in stats["patterns"]}
    assert per[good]["wilson_lower_bound"] > per[first]["wilson_lower_bound"] == 0.0
    assert per[first]["applied"] == chosen.count(False) and per[first]["applied_successes"] == 0
    bad = await ok(c, "explain_pattern", {"pattern_id": first})
    assert bad["applications"] == chosen.count(False) and bad["application_successes"] == 0
