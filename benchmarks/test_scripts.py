"""The benchmark scripts in quick mode, each in a subprocess, checked through their JSON.

They write to a temporary directory, so committed results in ``benchmarks/results/``
are not touched. Numbers are not asserted (timings go in the reports); the structure,
the invariants (p50 ≤ p95 ≤ p99, every step stored, ...) and the exit codes are.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run_script(name: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HERE / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=HERE.parent,
    )


def _ok(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"


def _percentiles_ordered(stats: dict[str, Any]) -> None:
    assert 0 < stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"]


def test_scale_quick(tmp_path: Path) -> None:
    proc = run_script("scale.py", "--quick", "--rounds", "5", "--queries", "5",
                      "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "out"))  # fmt: skip
    _ok(proc)
    report = json.loads((tmp_path / "out" / "scale.json").read_text())
    assert [r["size"] for r in report["results"]] == [200, 1000]
    for r in report["results"]:
        assert set(r["operations"]) == {
            "start_episode", "log_step", "log_steps (100 per call)", "complete_episode",
            "retrieve_context (top 5)", "query (episodes + patterns)",
            "retrieve_context (cache hit)",
            "retrieve_patterns (top 5)", "get_episode (cache hit)",
        }  # fmt: skip
        for stats in r["operations"].values():
            _percentiles_ordered(stats)
            assert stats["throughput_per_s"] > 0
        assert r["disk_mb"] > 0 and r["peak_rss_mb"] > 0 and r["build_rate_per_s"] > 0
        assert r["vectors"] > r["size"] and r["numpy_scan"]["p95_ms"] > 0
        assert r["retrieval_over_scan_p95"] > 0
        # The build rate per band of sizes, contiguous up to the size (decay shows there).
        bands = r["build_bands"]
        assert bands and bands[-1]["to"] == r["size"], bands
        assert all(a["to"] == b["from"] for a, b in itertools.pairwise(bands))
        assert all(b["rate_per_s"] > 0 for b in bands)
    small, large = report["results"]
    assert large["disk_mb"] > small["disk_mb"], "the 1,000-episode store is not larger"
    # The stores are reused: a second build of the same size adds nothing.
    again = run_script("scale.py", "--build-one", "1000", "--data-dir", str(tmp_path / "data"))
    _ok(again)
    assert json.loads(again.stdout)["built_now"] == 0
    assert "| 1,000 | retrieve_context (top 5) |" in (tmp_path / "out" / "scale.md").read_text()


def test_concurrency_quick_every_step_is_stored(tmp_path: Path) -> None:
    proc = run_script("concurrency.py", "--clients", "5", "--steps", "4", "--open-episodes",
                      "40", "--pool", "5", "--out", str(tmp_path))  # fmt: skip
    _ok(proc)
    results = json.loads((tmp_path / "concurrency.json").read_text())["results"]
    clients, open_eps = results
    assert clients["steps"] == 5 * 4 and clients["verify"]["steps_stored"] == 20
    assert open_eps["verify"]["episodes"] == 40 and open_eps["verify"]["steps_stored"] == 80
    for r in results:
        assert r["verify"]["ok"] and r["server_exit_code"] == 0 and not r["errors"]
        _percentiles_ordered(r)


def test_peers_quick(tmp_path: Path) -> None:
    proc = run_script("peers.py", "--spawns", "1", "--writes", "10", "--notes", "50",
                      "--queries", "20", "--embedders", "local",
                      "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path))  # fmt: skip
    _ok(proc)
    r = json.loads((tmp_path / "peers.json").read_text())
    assert r["cold_start"]["median_s"] > 0 and r["writes"]["writes_per_s"] > 0
    e = r["by_embedder"]["local"]
    assert e["search"]["queries"] == 20
    for key in ("search", "search_inprocess", "search_mild"):
        assert 0 <= e[key]["recall_at_5"] <= 1
    assert e["search_verbatim"]["recall_at_5"] == 1.0, "a stored note was not found by its own text"
    # Same ranking behind both front ends: MCP and in-process agree on recall and the floor.
    assert e["search"]["recall_at_5"] == e["search_inprocess"]["recall_at_5"]
    assert e["search"]["unrelated_empty"] == e["search_inprocess"]["unrelated_empty"]
    assert e["no_floor"]["recall_at_5"] >= e["search_inprocess"]["recall_at_5"]
    assert set(e["floor_sweep"]) == {"0.20", "0.25", "0.30", "0.35", "0.40", "0.45", "0.50"}
    assert r["mean_word_overlap"] < e["mild_word_overlap"]
    assert "memory-mcp (ours" in (tmp_path / "peers.md").read_text()


def test_mcp_round_trip_quick(tmp_path: Path) -> None:
    proc = run_script("mcp_round_trip.py", "--rounds", "20", "--out", str(tmp_path))
    _ok(proc)
    report = json.loads((tmp_path / "mcp_round_trip.json").read_text())
    assert set(report["tools"]) == {
        "echo",
        "ping",
        "get_episode",
        "add_episode_step",
        "query_memory",
    }
    for stats in report["tools"].values():
        _percentiles_ordered(stats)
        assert stats["calls_per_s"] > 0


def test_encryption_cost_quick(tmp_path: Path) -> None:
    out = tmp_path / "encryption.json"
    _ok(run_script("encryption_cost.py", "--episodes", "10", "--queries", "5", "--out", str(out)))
    report = json.loads(out.read_text())
    for kind in ("write_episode", "query"):
        assert set(report[kind]) == {"plain", "encrypted"}
        assert all(0 < s["p50_ms"] <= s["p95_ms"] for s in report[kind].values())


def test_tool_list_size(tmp_path: Path) -> None:
    _ok(run_script("tool_list_size.py", "--out", str(tmp_path)))
    report = json.loads((tmp_path / "tool_list.json").read_text())
    core, full = report["core"], report["full"]
    assert 0 < core["tools"] < full["tools"] and set(core["chars_by_tool"]) < set(
        full["chars_by_tool"]
    )
    assert core["tokens"] == round(core["chars"] / 4) and 0 < core["chars"] < full["chars"]
    assert "outputSchema" not in core["chars_by_field"] and full["chars_by_field"]["outputSchema"]


def test_import_rate_quick() -> None:
    proc = run_script("import_rate.py", "--episodes", "120", "--batch-size", "50", "--json")
    _ok(proc)
    (result,) = json.loads(proc.stdout)
    assert result["embedder"] == "local" and result["episodes"] == 120 and not result["problems"]
    assert result["vectors"] > 120  # the task text and the steps of every episode
    assert result["per_cpu_s"] > 0 and result["cost_over_reference"] > 0
