"""The miss breakdown (``failures.py``) in quick mode, as a real subprocess on the data the
LoCoMo quick test uses, and its two pure helpers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import failures  # noqa: E402
from test_locomo_quick import ROOT, data_dir  # noqa: E402


def test_classes() -> None:
    assert failures.classify(1, 14) == "session first, turn read after 10"
    assert failures.classify(1, None) == "session first, turn not returned"
    assert failures.classify(2, None) == "session 2-5"
    assert failures.classify(5, 17) == "session 2-5"
    assert failures.classify(6, None) == "session 6-10"
    assert failures.classify(None, None) == "session not returned"


def test_evidence_session_moves_first_keeping_its_steps() -> None:
    steps = [["D3:1", "D3:2"], ["D7:4"], ["D1:9", "D1:8"]]
    assert failures.evidence_first([3, 7, 1], steps, frozenset({7, 1})) == [
        "D7:4",
        "D3:1",
        "D3:2",
        "D1:9",
        "D1:8",
    ]
    assert failures.evidence_first([3, 7], steps[:2], frozenset({9})) == ["D3:1", "D3:2", "D7:4"]


def test_quick_run_accounts_for_every_miss(tmp_path: Path) -> None:
    out = tmp_path / "failures.json"
    script = HERE / "failures.py"
    cmd = [sys.executable, str(script), str(data_dir()), "--quick", "--embeddings", "none"]
    proc = subprocess.run(
        [*cmd, "--show", "2", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    n = report["questions"]
    hits = round(report["turn_recall"]["T_R@10"] * n)
    assert sum(report["misses_at_10"].values()) == n - hits
    by_category = sum(sum(c.values()) for c in report["misses_by_category"].values())
    assert by_category == n - hits
    assert len(report["examples"]) == min(2, n - hits)
    assert report["evidence_turns"]["n"] <= report["turns"]["n"]
    assert "evidence session moved first" in proc.stdout
