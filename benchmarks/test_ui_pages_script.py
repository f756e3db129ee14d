"""``ui_pages.py --quick`` in a subprocess: every page answers 200 and the report is whole
(timings are reported, never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_ui_pages_quick(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(HERE / "ui_pages.py"), "--quick",
         "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600, cwd=HERE.parent,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "out" / "ui_pages.json").read_text())
    assert result["size"] == 200
    pages = result["pages"]
    assert {"home /", "episode /episodes/ID", "patterns /patterns", "health /health"} <= set(pages)
    for stats in pages.values():
        assert 0 < stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"]
    assert "| home / |" in (tmp_path / "out" / "ui_pages.md").read_text()
