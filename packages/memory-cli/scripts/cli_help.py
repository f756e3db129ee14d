"""Regenerate docs/cli-help.md from `memory ... --help` (or check it with --check).

uv run python packages/memory-cli/scripts/cli_help.py           # write
uv run python packages/memory-cli/scripts/cli_help.py --check   # exit 1 if stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from memory_cli._helpdoc import render

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli-help.md"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if current != text:
            print(f"{DOC} is out of date; run {Path(__file__).name} to regenerate", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
