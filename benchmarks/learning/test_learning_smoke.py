"""Smoke test of the learning benchmark: it runs end to end on a small deterministic
setting and writes its table, JSON and PNG. No quality threshold (that is the full run's
job, see ``run.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUN = HERE / "run.py"


def test_quick_run_writes_a_report_for_every_variant(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--seeds", "5", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "learning.json").read_text())
    curves = report["curves"]
    for variant in ("no memory", "keyword memory", "memory"):
        points = curves[variant]
        assert [p["n"] for p in points] == list(range(6))
        assert all(0.0 <= p["success"] <= 1.0 for p in points)
    assert curves["no memory"][0]["followed"] == 0.0
    assert (tmp_path / "learning.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| 5 | memory |" in proc.stdout


def test_generator_is_seeded_and_lures_fail() -> None:
    sys.path.insert(0, str(HERE))
    from simulator import World, contains_in_order, families

    assert families(5, 4) == families(5, 4)
    assert families(5, 4) != families(6, 4)
    for fam in families(5, 8):
        for lure in fam.lures:
            assert not contains_in_order(list(lure), fam.solution)
    world = World(1, flaky=0.0)
    fam = families(5, 1)[0]
    task = world.task(fam)
    assert world.execute(task, list(fam.solution))[-1].ok
    assert not world.execute(task, list(fam.lures[0]))[-1].ok
    try:
        families(5, 99)
    except ValueError as exc:
        assert "count must be" in str(exc)
    else:
        raise AssertionError("99 families accepted")
