"""The learning curve in quick mode (3 families, N = 0, 5, 20), run as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parent / "run.py"


def test_quick_curve_learns_and_keeps_one_pattern_per_sequence(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--seed", "3", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "learning_curve.json").read_text())
    rows = {r["n"]: r for r in report["rows"]}
    assert sorted(rows) == [0, 5, 20]
    assert rows[0]["p1_seq"] == 0.0, "nothing stored, yet a sequence was recalled"
    assert rows[20]["p1_seq"] > 0.0, "20 episodes per family taught nothing"
    assert all(r["duplicates_per_family"] == 0 for r in rows.values())
    assert (tmp_path / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| 20 |" in proc.stdout


def test_generator_is_seeded_and_rejects_bad_family_counts() -> None:
    sys.path.insert(0, str(RUN.parent))
    from task_families import INTENTS, families

    assert families(5, 4) == families(5, 4)
    assert families(5, 4) != families(6, 4)
    for fam in families(5, len(INTENTS)):
        sequences = [fam.best, fam.lure, *fam.decoys]
        assert len({tuple(s) for s in sequences}) == len(sequences)
    try:
        families(5, len(INTENTS) + 1)
    except ValueError as exc:
        assert "--families" in str(exc)
    else:
        raise AssertionError("too many families accepted")
