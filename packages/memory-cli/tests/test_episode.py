"""``memory episode ...``: the lifecycle end to end, filters, paging, and error exits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4


def test_lifecycle_start_log_complete_show(run_json: Any, run: Any) -> None:
    eid = run_json(
        "episode",
        "start",
        "Add a /health endpoint",
        "--domain",
        "web",
        "--language",
        "python",
        "--tag",
        "api",
        "--metadata",
        '{"ticket": 42}',
    )["id"]
    UUID(eid)
    assert run_json(
        "episode",
        "log",
        eid,
        "--tool",
        "edit",
        "--action",
        "add route",
        "--param",
        "file=app.py",
        "--param",
        "n=3",
    )["step_numbers"] == [1]
    assert run_json(
        "episode",
        "log",
        eid,
        "--tool",
        "pytest",
        "--status",
        "error",
        "--message",
        "1 failed",
        "--latency-ms",
        "900",
    )["step_numbers"] == [2]
    shown = run_json("episode", "show", eid)
    assert shown["outcome"] is None
    assert [s["tool"] for s in shown["steps"]] == ["edit", "pytest"]
    assert shown["steps"][0]["parameters"] == {"file": "app.py", "n": 3}
    assert shown["steps"][1]["result"] == {"status": "error", "output": None, "message": "1 failed"}
    assert shown["context"]["tags"] == ["api"] and shown["metadata"] == {"ticket": 42}

    done = run_json(
        "episode",
        "complete",
        eid,
        "--outcome",
        "success",
        "--verdict",
        "added",
        "--artifact",
        "app.py",
    )
    assert done["outcome"]["type"] == "success" and done["outcome"]["artifacts"] == ["app.py"]
    assert done["reward"]["total"] > 0 and done["completed_at"] is not None
    assert done["reflection"] is not None

    table = run("episode", "show", eid).stdout
    assert eid in table and "add route" in table and "success" in table


def test_log_batch_from_json_file_and_stdin(run_json: Any, env: Any) -> None:
    eid = run_json("episode", "start", "Batch logging")["id"]
    steps = env.work / "steps.jsonl"
    steps.write_text(
        json.dumps({"tool": "a", "action": "first"})
        + "\n"
        + json.dumps({"tool": "b", "action": "second", "result": {"status": "success"}})
        + "\n"
    )
    assert run_json("episode", "log", eid, "--json", str(steps))["step_numbers"] == [1, 2]
    payload = json.dumps([{"step_number": 7, "tool": "c"}])
    assert run_json("episode", "log", eid, "--json", "-", input=payload)["step_numbers"] == [7]
    assert [s["step_number"] for s in run_json("episode", "show", eid)["steps"]] == [1, 2, 7]


def test_list_filters_and_paging(run_json: Any, seeded: dict[str, str]) -> None:
    page = run_json("episode", "list")
    assert {i["id"] for i in page["items"]} == set(seeded.values())
    assert page["next_cursor"] is None

    web = run_json("episode", "list", "--domain", "web")["items"]
    assert {i["id"] for i in web} == {seeded["web-ok"], seeded["web-fail"]}
    failed = run_json("episode", "list", "--outcome", "failure")["items"]
    assert [i["id"] for i in failed] == [seeded["web-fail"]]
    in_progress = run_json("episode", "list", "--status", "in_progress")["items"]
    assert [i["id"] for i in in_progress] == [seeded["open"]]
    tagged = run_json("episode", "list", "--tag", "data", "--type", "code_generation")["items"]
    assert [i["id"] for i in tagged] == [seeded["data-ok"]]
    assert run_json("episode", "list", "--since", "1h")["items"]
    assert run_json("episode", "list", "--until", "2000-01-01")["items"] == []

    first = run_json("episode", "list", "-n", "3")
    assert len(first["items"]) == 3 and first["next_cursor"]
    rest = run_json("episode", "list", "-n", "3", "--cursor", first["next_cursor"])
    seen = [i["id"] for i in first["items"] + rest["items"]]
    assert sorted(seen) == sorted(seeded.values()) and len(set(seen)) == 4
    every = run_json("episode", "list", "-n", "1", "--all")
    assert [i["id"] for i in every["items"]] == seen and every["next_cursor"] is None


def test_list_table_shows_cursor_hint(run: Any, seeded: dict[str, str]) -> None:
    out = run("episode", "list", "-n", "2").stdout
    assert "--cursor" in out
    assert all(len(line) <= 80 for line in out.splitlines())


def test_search_returns_scored_episodes(run_json: Any, seeded: dict[str, str]) -> None:
    hits = run_json("episode", "search", "health endpoint flask", "-n", "2")
    assert hits and hits[0]["episode"]["id"] == seeded["web-ok"]
    assert set(hits[0]["components"]) >= {"semantic", "lexical", "context", "recency", "reward"}
    only_data = run_json("episode", "search", "health endpoint", "--domain", "data")
    assert {h["episode"]["id"] for h in only_data} <= {seeded["data-ok"]}


def test_delete(run_json: Any, run: Any, seeded: dict[str, str]) -> None:
    eid = seeded["web-fail"]
    run("episode", "delete", eid, code=1, input="n\n")  # declined: aborted, nothing deleted
    run_json("episode", "show", eid)
    assert run_json("episode", "delete", eid, "--yes") == {"id": eid, "deleted": True}
    result = run("episode", "show", eid, code=1)
    assert f"episode not found: {eid}" in result.stderr
    assert "Traceback" not in result.output
    assert "episode not found" in run("episode", "delete", eid, "--yes", code=1).stderr


def test_errors_map_to_exit_codes_without_tracebacks(run: Any, run_json: Any) -> None:
    missing = str(uuid4())
    r = run("episode", "show", missing, code=1)
    assert r.stderr.strip() == f"Error: episode not found: {missing}"
    r = run("episode", "show", "not-a-uuid", code=2)
    assert "EPISODE_ID" in r.stderr and "not a UUID" in r.stderr
    r = run("episode", "start", "x" * 10_001, code=2)
    assert "task_description" in r.stderr and "10000" in r.stderr
    r = run("episode", "log", missing, "--tool", "x", "--step", "1", code=1)
    assert "not found" in r.stderr
    eid = run_json("episode", "start", "t")["id"]
    run("episode", "log", eid, "--tool", "x", "--step", "1")
    r = run("episode", "log", eid, "--tool", "y", "--step", "1", code=1)
    assert "step" in r.stderr.lower()
    run("episode", "complete", eid, "--outcome", "success")
    r = run("episode", "complete", eid, "--outcome", "success", code=1)
    assert "already completed" in r.stderr
    r = run("episode", "log", eid, "--tool", "x", code=1)
    assert "Error:" in r.stderr
    r = run("episode", "list", "--since", "yesterday", code=2)
    assert "--since" in r.stderr
    r = run("episode", "log", eid, code=2)
    assert "--tool" in r.stderr
    r = run("episode", "complete", eid, "--outcome", "meh", code=2)
    assert "meh" in r.stderr and "Traceback" not in r.output


def test_start_table_output_is_the_bare_id(run: Any) -> None:
    out = run("episode", "start", "print only the id").stdout.strip()
    UUID(out)


def test_yaml_output(run: Any, run_json: Any) -> None:
    import yaml

    eid = run_json("episode", "start", "yaml please")["id"]
    data = yaml.safe_load(run("--format", "yaml", "episode", "show", eid).stdout)
    assert data["id"] == eid and data["task_description"] == "yaml please"


def test_database_url_and_tenant_options(run_json: Any, run: Any, env: Any, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    eid = run_json("--database-url", f"file:{other}", "episode", "start", "elsewhere")["id"]
    assert other.exists()
    assert run_json("episode", "list")["items"] == []
    listed = run_json("--database-url", f"file:{other}", "episode", "list")["items"]
    assert [i["id"] for i in listed] == [eid]
    tid = run_json("--tenant", "team-a", "episode", "start", "tenant a")["id"]
    assert [i["id"] for i in run_json("--tenant", "team-a", "episode", "list")["items"]] == [tid]
    assert run_json("episode", "list")["items"] == []
    assert "not found" in run("episode", "show", tid, code=1).stderr  # other tenant


def test_update_corrects_the_outcome_and_adds_a_lesson(run_json: Any, run: Any) -> None:
    eid = run_json("episode", "start", "Rotate the signing keys")["id"]
    run_json("episode", "log", eid, "--tool", "vault", "--action", "rotate keys")
    run_json("episode", "complete", eid, "--outcome", "success")
    out = run_json(
        "episode", "update", eid, "--outcome", "failure", "--reason", "old key still served",
        "--lesson", "flush the key cache",
    )  # fmt: skip
    assert out["outcome"]["type"] == "failure" and out["reward"]["total"] == 0.0
    assert "Lesson: flush the key cache" in out["reflection"]["insights"]
    assert out["metadata"]["lessons"] == ["flush the key cache"]
    nothing = run("episode", "update", eid, code=2)
    assert "nothing to update" in nothing.stderr
