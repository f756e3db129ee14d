"""What ``tools/list`` costs an agent's context, per tool profile, as the server sends it.

    uv run python benchmarks/tool_list_size.py            # both profiles
    uv run python benchmarks/tool_list_size.py --out benchmarks/results

Starts ``memory-mcp`` (``--tools core`` and ``--tools full``) on stdio in a temporary
directory, sends ``initialize`` and ``tools/list`` as raw JSON-RPC and measures the result
as compact JSON: characters, tokens as characters / 4 (the budget's measure), the share of
each field (descriptions, input and output schemas, annotations) and each tool's size.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from memory_test_utils import wire_tools_list

CHARS_PER_TOKEN = 4


def tools_list(profile: str, data_dir: Path) -> dict[str, Any]:
    return wire_tools_list(data_dir, "--tools", profile)


def size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def measure(listing: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, int] = {}
    for tool in listing["tools"]:
        for key, value in tool.items():
            fields[key] = fields.get(key, 0) + size(value)
    chars = size(listing)
    return {
        "tools": len(listing["tools"]),
        "chars": chars,
        "tokens": round(chars / CHARS_PER_TOKEN),
        "chars_by_field": fields,
        "chars_by_tool": {t["name"]: size(t) for t in listing["tools"]},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="directory for tool_list.json")
    args = parser.parse_args()
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for profile in ("core", "full"):
            data = Path(tmp) / profile
            data.mkdir()
            report[profile] = measure(tools_list(profile, data))
    for profile, m in report.items():
        print(f"{profile}: {m['tools']} tools, {m['chars']} chars, {m['tokens']} tokens")
        print("  by field: " + ", ".join(f"{k} {v}" for k, v in m["chars_by_field"].items()))
        for name, chars in sorted(m["chars_by_tool"].items(), key=lambda kv: -kv[1]):
            print(f"  {name:32s} {chars:6d}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "tool_list.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
