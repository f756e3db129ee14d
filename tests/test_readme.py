"""The READMEs' library examples run and print exactly the output they show: the root
README, and memory-core's (its PyPI page)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = {
    "README.md": "## The library, briefly",
    "packages/memory-core/README.md": "## The loop in ten lines",
}


@pytest.mark.parametrize("readme", sorted(EXAMPLES))
def test_readme_example_output_is_real(readme: str, tmp_path: Path) -> None:
    text = (ROOT / readme).read_text(encoding="utf-8")
    heading = re.escape(EXAMPLES[readme])
    code = re.search(heading + r"\n\n```python\n(.*?)```", text, re.S)
    shown = code and re.search(r"\nOutput:\n\n```text\n(.*?)```", text[code.end() :], re.S)
    assert code and shown, f"{readme} lost its example or its output block"
    script = tmp_path / "example.py"
    script.write_text(code.group(1), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == shown.group(1)
