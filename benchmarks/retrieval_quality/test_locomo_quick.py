"""The LoCoMo retrieval benchmark's quick mode, run as CI runs it: a real subprocess.

Data: ``$LOCOMO_DIR``, by default ``<repo>/../shared/data/locomo-dev``. A fresh clone
does not have that directory; the test then runs on the tiny synthetic conversation in
``fixtures/tiny`` (same format) and says so in its output. An explicitly set
``LOCOMO_DIR`` that does not exist is an error, not a fallback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCRIPT = HERE / "locomo.py"
FIXTURE = HERE / "fixtures" / "tiny"
DEFAULT_DEV = ROOT.parent / "shared" / "data" / "locomo-dev"


def data_dir() -> Path:
    configured = os.environ.get("LOCOMO_DIR")
    if configured:
        path = Path(configured)
        if not path.is_dir():
            raise FileNotFoundError(f"LOCOMO_DIR={configured} is not a directory")
        return path
    if DEFAULT_DEV.is_dir():
        return DEFAULT_DEV
    print(f"{DEFAULT_DEV} not found: running on the synthetic fixture {FIXTURE}", file=sys.stderr)
    return FIXTURE


def chance(path: Path) -> tuple[float, float, int]:
    """Expected session R@1 and turn R@10 of a random ranking, and the question count,
    for the first conversation (what --quick runs)."""
    first = sorted(path.glob("*.json"), key=lambda p: (len(p.stem), p.stem))[0]
    sys.path.insert(0, str(HERE))
    try:
        import locomo
    finally:
        sys.path.remove(str(HERE))
    conv = locomo.load_conversation(first)
    n_sessions = len(conv.sessions)
    n_turns = sum(len(s.turns) for s in conv.sessions)
    qs = conv.questions
    s1 = sum(len(q.sessions) / n_sessions for q in qs) / len(qs)
    t10 = sum(min(1.0, 10 * len(q.turns) / n_turns) for q in qs) / len(qs)
    return s1, t10, len(qs)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, Path]:
    path = data_dir()
    out = tmp_path_factory.mktemp("locomo") / "locomo.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(path), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout, path


SUMMARY_KEYS = {"questions", "S_R@1", "S_R@5", "S_R@10", "T_R@5", "T_R@10", "T_R@20"}


def test_output_structure(run: tuple[dict[str, Any], str, Path]) -> None:
    report, stdout, path = run
    assert report["quick"] is True
    assert report["data_dir"] == str(path)
    assert len(report["conversations"]) == 1
    assert report["storage"] == "memory" and report["embeddings"] == "local"
    assert report["retrieval_mode"].startswith("hybrid"), report["retrieval_mode"]
    groups = [report["overall"], *report["by_category"].values()]
    groups += report["by_conversation"].values()
    for summary in groups:
        assert SUMMARY_KEYS | {"S_MRR", "T_MRR"} <= set(summary)
        values = [summary[k] for k in SUMMARY_KEYS - {"questions"}]
        assert all(0.0 <= v <= 1.0 for v in values)
        assert summary["S_R@1"] <= summary["S_R@5"] <= summary["S_R@10"]
        assert summary["T_R@5"] <= summary["T_R@10"] <= summary["T_R@20"]
        assert summary["S_MRR"] >= summary["S_R@1"]
    assert set(report["by_category"]) <= {"1", "2", "3", "4"}
    n = report["overall"]["questions"]
    assert sum(s["questions"] for s in report["by_category"].values()) == n
    assert report["query_ms"]["n"] == n
    assert 0 < report["query_ms"]["p50"] <= report["query_ms"]["p95"]
    assert "| overall |" in stdout and "query time: p50" in stdout


def test_recall_is_well_above_chance(run: tuple[dict[str, Any], str, Path]) -> None:
    report, _, path = run
    s1_chance, t10_chance, n = chance(path)
    overall = report["overall"]
    assert overall["questions"] == n
    assert overall["S_R@1"] >= min(0.8, max(0.5, 3 * s1_chance)), (overall, s1_chance)
    assert overall["S_R@5"] >= 0.8, overall
    assert overall["T_R@10"] >= min(0.8, max(0.4, 3 * t10_chance)), (overall, t10_chance)


def test_fixture_is_valid_locomo_format() -> None:
    """The fallback data must itself exercise the loader: skipped categories and
    evidence that names no turn are left out, the rest are kept."""
    sys.path.insert(0, str(HERE))
    try:
        import locomo
    finally:
        sys.path.remove(str(HERE))
    (conv,) = locomo.load(FIXTURE)
    assert len(conv.sessions) == 6 and conv.speakers == ("Ada", "Ben")
    assert conv.skipped == 1  # category 4 with evidence D9:99
    assert len(conv.questions) == 10  # the category 5 question is not asked
    assert all(q.turns and q.sessions for q in conv.questions)
