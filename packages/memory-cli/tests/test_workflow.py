"""``memory tag|relationship|playbook|feedback`` and ``memory episode checkpoint|handoff|
resume`` on a real libSQL file. Every CLI invocation opens the database anew and closes it,
so each read after a write is also a restart; one test runs real processes end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from memory_cli._helpdoc import command_paths

Run = Callable[..., Any]
MISSING = str(uuid.UUID(int=9))
SCRIPT = Path(sys.executable).with_name("memory")


def start(run_json: Run, task: str, *args: str) -> str:
    return str(run_json("episode", "start", task, *args)["id"])


def test_workflow_commands_are_registered() -> None:
    names = {" ".join(p) for p in command_paths()}
    assert {
        "tag add",
        "tag remove",
        "tag set",
        "tag list",
        "tag search",
        "tag stats",
        "relationship add",
        "relationship remove",
        "relationship list",
        "relationship related",
        "relationship graph",
        "relationship check",
        "relationship order",
        "episode checkpoint",
        "episode handoff",
        "episode resume",
        "playbook recommend",
        "playbook explain",
        "feedback record",
        "feedback stats",
    } <= names


def test_tag_commands(run_json: Run, run: Run) -> None:
    a = start(run_json, "Tune the parser cache", "--tag", "parser")
    b = start(run_json, "Tune the lexer cache")
    assert run_json("tag", "add", a, "perf", "parser") == {
        "episode_id": a,
        "tags": ["parser", "perf"],
    }
    assert run_json("tag", "add", b, "perf", "lexer")["tags"] == ["perf", "lexer"]
    assert run_json("tag", "remove", b, "lexer", "absent")["tags"] == ["perf"]
    assert run_json("tag", "list", a)["tags"] == ["parser", "perf"]
    assert run("tag", "list", a).stdout.strip() == "parser, perf"

    anyof = run_json("tag", "search", "parser", "perf")
    assert {e["id"] for e in anyof["items"]} == {a, b}
    allof = run_json("tag", "search", "parser", "perf", "--all")
    assert [e["id"] for e in allof["items"]] == [a]
    page = run_json("tag", "search", "parser", "perf", "-n", "1")
    rest = run_json("tag", "search", "parser", "perf", "-n", "1", "--cursor", page["next_cursor"])
    assert {page["items"][0]["id"], rest["items"][0]["id"]} == {a, b}
    assert "Tune the lexer cache" in run("tag", "search", "perf").stdout

    stats = {s["tag"]: s for s in run_json("tag", "stats")}
    assert stats["perf"]["count"] == 2 and stats["parser"]["count"] == 1
    assert stats["lexer"]["count"] == 0 and stats["lexer"]["last_used"]
    table = run("tag", "stats").stdout
    assert "perf" in table and "episodes" in table

    assert run_json("tag", "set", a, "final")["tags"] == ["final"]
    assert run_json("tag", "set", a)["tags"] == []
    assert run("tag", "list", a).stdout.strip() == "(no tags)"
    # Tags are the episode's own: filters and show see them.
    run_json("tag", "set", b, "only-b")
    assert [e["id"] for e in run_json("episode", "list", "--tag", "only-b")["items"]] == [b]

    err = run("tag", "add", a, "a,b", code=2).stderr
    assert "tags[0]" in err and "comma" in err
    err = run("tag", "add", a, "x" * 513, code=2).stderr
    assert "tags[0]" in err and "512" in err
    assert "not found" in run("tag", "add", MISSING, "x", code=1).stderr
    assert "not a UUID" in run("tag", "list", "nope", code=2).stderr


def test_relationship_commands(run_json: Run, run: Run, env: Any) -> None:
    plan, build, test, ship = (
        start(run_json, f"Release step {n}") for n in ("plan", "build", "test", "ship")
    )
    rel = run_json(
        "relationship", "add", build, plan, "--type", "depends_on", "--reason", "needs the plan",
        "--priority", "8",
    )  # fmt: skip
    assert rel["id"] == f"{build}:depends_on:{plan}" and rel["priority"] == 8
    run_json("relationship", "add", test, build, "-t", "depends_on")
    run_json("relationship", "add", test, ship, "-t", "blocks")
    run_json("relationship", "add", ship, plan, "-t", "references")

    err = run("relationship", "add", plan, test, "-t", "depends_on", code=2).stderr
    assert "cycle" in err and "TO" in err and "Traceback" not in err
    assert "itself" in run("relationship", "add", plan, plan, "-t", "related_to", code=2).stderr
    assert "--type" in run("relationship", "add", plan, test, "-t", "kinda", code=2).stderr
    assert "not found" in run("relationship", "add", plan, MISSING, "-t", "blocks", code=1).stderr

    links = run_json("relationship", "list", build)
    assert {(r["source_id"], r["target_id"]) for r in links} == {(build, plan), (test, build)}
    assert [r["source_id"] for r in run_json("relationship", "list", build, "-d", "in")] == [test]
    assert run_json("relationship", "list", test, "-t", "blocks")[0]["target_id"] == ship

    related = run_json("relationship", "related", test, "--depth", "2", "-t", "depends_on")
    by_id = {r["episode_id"]: r for r in related}
    assert set(by_id) == {build, plan} and by_id[plan]["path"] == [test, build, plan]
    assert "Release step build" in run("relationship", "related", test).stdout

    graph = run_json("relationship", "graph", plan)
    assert {n["id"] for n in graph["nodes"]} == {plan, build, test, ship}
    assert len(graph["edges"]) == 4 and graph["root"] == plan
    assert (
        run_json("relationship", "graph", "--format", "json", "-t", "blocks")["edges"][0]["type"]
        == "blocks"
    )
    dot = run("relationship", "graph", plan, "--format", "dot").stdout
    assert dot.startswith("digraph episodes {") and f'"{build}" -> "{plan}"' in dot
    assert dot.count("->") == 4 and "style=dashed" in dot
    # -f json without the sub-option gives the same JSON as --format json.
    assert run_json("relationship", "graph", plan) == json.loads(
        run("relationship", "graph", plan, "--format", "json").stdout
    )

    ok = run_json("relationship", "check")
    assert ok["acyclic"] is True and ok["cycles"] == []
    would = run_json(
        "relationship", "check", "--from", plan, "--to", test, "--type", "depends_on", code=1
    )
    assert would["would_create_cycle"] is True and set(would["cycle_path"]) == {plan, build, test}
    fine = run_json("relationship", "check", "--from", plan, "--to", test, "--type", "related_to")
    assert fine["would_create_cycle"] is False
    assert "--type" in run("relationship", "check", "--from", plan, code=2).stderr

    order = run_json("relationship", "order")
    pos = {eid: i for i, eid in enumerate(order["order"])}
    assert pos[plan] < pos[build] < pos[test] < pos[ship]
    subset = run_json("relationship", "order", "-e", ship, "-e", plan, "-e", str(uuid.UUID(int=3)))
    assert subset["order"] == [plan, ship, str(uuid.UUID(int=3))]
    assert "references" in run("relationship", "order", "-t", "references", code=2).stderr

    rid = f"{test}:blocks:{ship}"
    assert run_json("relationship", "remove", rid) == {"id": rid, "removed": True}
    assert "not found" in run("relationship", "remove", rid, code=1).stderr
    run_json("episode", "delete", build, "--yes")
    assert [r["type"] for r in run_json("relationship", "list", plan)] == ["references"]


def test_checkpoint_handoff_resume(run_json: Run, run: Run, env: Any) -> None:
    eid = start(run_json, "Migrate the billing tables")
    run_json("episode", "log", eid, "--tool", "psql", "--action", "inspect tables")
    run_json("episode", "log", eid, "--tool", "alembic", "--status", "error", "--message", "dup")
    cp = run_json("episode", "checkpoint", eid, "--reason", "context full", "--note", "Index?")
    assert cp["episode_id"] == eid and cp["step_count"] == 2
    pack = run_json("episode", "handoff", cp["id"])
    assert pack["goal"] == "Migrate the billing tables" and pack["last_step_number"] == 2
    assert [s["step_number"] for s in pack["failed"]] == [2]
    table = run("episode", "handoff", cp["id"]).stdout
    assert "open questions" in table and "Index?" in table
    pack_file = env.work / "pack.json"
    pack_file.write_text(json.dumps(pack), encoding="utf-8")

    run_json("episode", "log", eid, "--tool", "editor", "--action", "fix the migration")
    resumed = run_json("episode", "resume", cp["id"])
    assert resumed["continued"] is True and resumed["next_step_number"] == 4
    assert [s["tool"] for s in resumed["steps_since_checkpoint"]] == ["editor"]
    from_file = run_json("episode", "resume", "--pack", str(pack_file))
    assert from_file == resumed
    from_stdin = run_json("episode", "resume", "--pack", "-", input=json.dumps(pack))
    assert from_stdin == resumed
    run_json("episode", "log", eid, "--tool", "alembic", "--action", "upgrade")
    run_json("episode", "complete", eid, "--outcome", "success")
    shown = run_json("episode", "show", eid)
    assert [s["step_number"] for s in shown["steps"]] == [1, 2, 3, 4]

    after = run_json("episode", "resume", "--pack", str(pack_file))
    assert after["continued"] is False and after["previous_episode_id"] == eid
    assert [r["type"] for r in run_json("relationship", "list", after["episode_id"])] == ["follows"]

    assert "CHECKPOINT_ID" in run("episode", "resume", code=2).stderr
    assert "CHECKPOINT_ID" in run("episode", "resume", cp["id"], "--pack", "-", code=2).stderr
    bad = {k: v for k, v in pack.items() if k != "goal"}
    err = run("episode", "resume", "--pack", "-", input=json.dumps(bad), code=2).stderr
    assert "--pack.goal" in err
    assert "checkpoint not found" in run("episode", "handoff", "nope", code=1).stderr
    assert "completed" in run("episode", "checkpoint", eid, code=1).stderr


def test_playbook_and_feedback_commands(run_json: Run, run: Run) -> None:
    for i in range(3):
        eid = start(run_json, f"Provision the kafka cluster number {i}", "--domain", "stream")
        for tool in ("terraform", "ansible", "kcat"):
            run_json("episode", "log", eid, "--tool", tool, "--action", f"{tool} cluster {i}")
        run_json("episode", "complete", eid, "--outcome", "success")
    current = start(run_json, "Provision the kafka cluster for billing", "--domain", "stream")
    pb = run_json(
        "playbook", "recommend", "Provision the kafka cluster", "--domain", "stream",
        "--max-steps", "5", "--episode", current,
    )  # fmt: skip
    assert [s["tool"] for s in pb["steps"] if s["kind"] == "do"][:3] == [
        "terraform",
        "ansible",
        "kcat",
    ]
    assert len(pb["steps"]) <= 5 and pb["session_id"]
    pid = pb["steps"][0]["evidence_pattern_ids"][0]
    table = run("playbook", "recommend", "Provision the kafka cluster", "--domain", "stream").stdout
    assert "terraform" in table and "conf" in table

    explained = run_json("playbook", "explain", pid)
    assert explained["observed_support"] == 3 and len(explained["source_episodes"]) == 3
    assert "Applies when" in run("playbook", "explain", pid).stdout
    assert "not found" in run("playbook", "explain", MISSING, code=1).stderr
    assert "max-steps" in run("playbook", "recommend", "x", "--max-steps", "51", code=2).stderr

    fb = run_json("feedback", "record", current, "--applied", pid, "--success", "--rating", "4")
    assert fb["applied_pattern_ids"] == [pid] and fb["success"] is True
    assert fb["recommended_pattern_ids"] == pb["pattern_ids"] and fb["applied_recorded"]
    stats = run_json("feedback", "stats")
    assert stats["sessions"] == 1 and stats["episodes_with_feedback"] == 1
    assert stats["average_rating"] == 4.0 and stats["patterns"][0]["pattern_id"] == pid
    assert "success when applied" in run("feedback", "stats").stdout
    # Recorded again: replaces (still one feedback episode), outcome deferred to completion.
    again = run_json("feedback", "record", current, "--applied", pid, "--rating", "2")
    assert again["success"] is None
    assert run_json("feedback", "stats")["average_rating"] == 2.0

    assert "not found" in run("feedback", "record", current, "-a", MISSING, code=1).stderr
    assert "rating" in run("feedback", "record", current, "--rating", "9", code=2).stderr
    assert "not a UUID" in run("feedback", "record", current, "-a", "x", code=2).stderr


def _proc(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, input=stdin, capture_output=True, text=True,
        env=dict(os.environ), timeout=300,
    )  # fmt: skip


def test_workflow_state_read_by_real_processes(env: Any, run_json: Run) -> None:
    """Written in this process, read back by new ``memory`` processes (process start-up
    is the cost here, so three of them): a hand-off pack, feedback, and the graph as DOT
    on stdout with nothing on stderr, as a pipe to Graphviz needs."""
    a = start(run_json, "Write the changelog")
    b = start(run_json, "Tag the release")
    run_json("tag", "add", a, "release")
    run_json("relationship", "add", b, a, "--type", "depends_on")
    run_json("episode", "log", a, "--tool", "git", "--action", "log")
    cp = run_json("episode", "checkpoint", a, "--reason", "handover")
    pack = run_json("episode", "handoff", cp["id"])
    run_json("playbook", "recommend", "Write the changelog", "--episode", a)
    run_json("feedback", "record", a, "--rating", "5")

    handoff = _proc("-f", "json", "episode", "handoff", cp["id"], cwd=env.work)
    assert handoff.returncode == 0, handoff.stderr
    assert json.loads(handoff.stdout) == pack and pack["context"]["tags"] == ["release"]
    stats = _proc("-f", "json", "feedback", "stats", cwd=env.work)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["average_rating"] == 5.0
    dot = _proc("relationship", "graph", "--format", "dot", cwd=env.work)
    assert dot.returncode == 0 and dot.stderr == ""
    assert dot.stdout.startswith("digraph") and f'"{b}" -> "{a}"' in dot.stdout
