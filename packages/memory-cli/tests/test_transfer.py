"""``memory export`` / ``memory import``: JSONL round trip, idempotence, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from memory_core import Episode


def _export(run: Any, env: dict[str, str] | None = None) -> str:
    return run("export", env=env).stdout


def test_export_import_export_is_byte_identical(
    run: Any, run_json: Any, seeded: dict[str, str], tmp_path: Path, env: Any
) -> None:
    first = _export(run)
    lines = first.splitlines()
    assert first.endswith("\n")
    header = json.loads(lines[0])
    assert (header["type"], header["format"], header["version"]) == ("header", "selfmem-memory", 2)
    records = [json.loads(line) for line in lines[1:]]
    episodes = [r for r in records if r["type"] == "episode"]
    assert len(episodes) == 4 == header["counts"]["episodes"]
    assert {r["id"] for r in episodes} == set(seeded.values())
    for r in episodes:  # every episode line is a whole Episode
        Episode.model_validate({k: v for k, v in r.items() if k != "type"})
    assert {r["type"] for r in records} <= {"episode", "pattern", "heuristic", "record"}
    assert _export(run) == first  # deterministic

    dump = tmp_path / "dump.jsonl"
    dump.write_text(first, encoding="utf-8")
    empty = env.other("empty")
    learned = {k: header["counts"][k] for k in ("patterns", "heuristics", "records")}
    result = run_json("import", str(dump), env=empty)
    assert result == {"episodes": 4, "imported": 4, "existing": 0, **learned}
    second = _export(run, empty)
    assert second == first

    again = run_json("import", str(dump), env=empty)  # idempotent by id
    assert again == {"episodes": 4, "imported": 0, "existing": 4, **learned}
    assert _export(run, empty) == first


def test_export_to_file_and_import_from_stdin(
    run: Any, run_json: Any, seeded: dict[str, str], tmp_path: Path, env: Any
) -> None:
    out = tmp_path / "out" / "memory.jsonl"
    assert run_json("export", "-o", str(out)) == {"path": str(out), "episodes": 4}
    assert not [p for p in out.parent.iterdir() if p.name != out.name]  # no temp left over
    target = env.other("b")
    text = out.read_text(encoding="utf-8")
    assert run_json("import", "-", input=text, env=target)["imported"] == 4
    imported = run_json("episode", "show", seeded["web-ok"], env=target)
    original = run_json("episode", "show", seeded["web-ok"])
    # the version counter is checked by the byte-identical test above
    assert {**imported, "version": 0} == {**original, "version": 0}
    hits = run_json("episode", "search", "health endpoint flask", env=target)
    assert hits[0]["episode"]["id"] == seeded["web-ok"]  # indexes rebuilt on import


def test_import_as_other_tenant(run: Any, run_json: Any, seeded: dict[str, str]) -> None:
    dump = _export(run)
    result = run_json("import", "-", "--as-tenant", "team-b", input=dump)
    assert result["imported"] == 4
    listed = run_json("--tenant", "team-b", "episode", "list")["items"]
    assert {i["id"] for i in listed} == set(seeded.values())
    assert all(i["tenant"] == "team-b" for i in listed)
    r = run("import", "-", "--as-tenant", "bad tenant!", input=dump, code=2)
    assert "tenant" in r.stderr


def test_bad_line_stops_before_any_write(
    run: Any, run_json: Any, seeded: dict[str, str], tmp_path: Path, env: Any
) -> None:
    lines = _export(run).splitlines()
    broken = json.loads(lines[2])
    broken["steps"][0]["step_number"] = 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([lines[0], lines[1], json.dumps(broken), lines[3]]) + "\n")
    target = env.other("c")
    r = run("import", str(bad), code=2, env=target)
    assert "line 3" in r.stderr and "step_number" in r.stderr and "Traceback" not in r.output
    assert run_json("episode", "list", env=target)["items"] == []

    bad.write_text(lines[0] + "\n{not json\n")
    r = run("import", str(bad), code=2, env=target)
    assert "line 2" in r.stderr and "invalid JSON" in r.stderr
    assert run_json("episode", "list", env=target)["items"] == []


def test_unknown_record_types_are_skipped(run_json: Any, tmp_path: Path) -> None:
    f = tmp_path / "future.jsonl"
    f.write_text('{"type": "hologram", "id": "x"}\n\n')
    assert run_json("import", str(f)) == {
        "episodes": 0,
        "imported": 0,
        "existing": 0,
        "patterns": 0,
        "heuristics": 0,
        "records": 0,
    }


def test_import_missing_file(run: Any) -> None:
    r = run("import", "nope.jsonl", code=1)
    assert "nope.jsonl" in r.stderr and "Traceback" not in r.output
