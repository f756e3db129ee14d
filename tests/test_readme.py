"""The README's library example runs and prints exactly the output the README shows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CORE_README = ROOT / "packages" / "memory-core" / "README.md"


def test_readme_example_output_is_real(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    code = re.search(r"## The library, briefly\n\n```python\n(.*?)```", text, re.S)
    shown = re.search(r"\nOutput:\n\n```text\n(.*?)```", text, re.S)
    assert code and shown, "README lost its example or its output block"
    script = tmp_path / "example.py"
    script.write_text(code.group(1), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == shown.group(1)


def test_core_readme_example_output_is_real(tmp_path: Path) -> None:
    """memory-core's README is its PyPI page: its example must run as shown."""
    text = CORE_README.read_text(encoding="utf-8")
    code = re.search(r"## The loop in ten lines\n\n```python\n(.*?)```", text, re.S)
    shown = re.search(r"\nOutput:\n\n```text\n(.*?)```", text, re.S)
    assert code and shown, "memory-core's README lost its example or its output block"
    script = tmp_path / "example.py"
    script.write_text(code.group(1), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == shown.group(1)
