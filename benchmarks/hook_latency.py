"""Wall time of ``memory hook claude-code`` per event, as Claude Code runs it (a new
process per call, JSON on stdin), cold (first call: no recorder running yet) and warm.

    uv run python benchmarks/hook_latency.py            # 40 calls per event
    uv run python benchmarks/hook_latency.py --calls 100

Runs in a temporary directory (its own database and hook directory); prints median and
p95 per event in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("memory")


def call(event: dict[str, object], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(
        [str(SCRIPT), "hook", "claude-code"],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    return (time.perf_counter() - t) * 1000


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="hook-bench-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"file:{root / 'memory.db'}",
        "MEMORY_CACHE_PATH": str(root / "cache"),
        "MEMORY_HOOK_DIR": str(root / "hooks"),
    }
    base = {"session_id": "bench", "cwd": str(root), "transcript_path": str(root / "t.jsonl")}
    prompt = {**base, "hook_event_name": "UserPromptSubmit", "prompt": "fix the flaky login test"}
    tool = {
        **base,
        "hook_event_name": "PostToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": "pytest -q tests/test_login.py"},
        "tool_response": {"stdout": "3 passed", "stderr": "", "interrupted": False},
    }
    try:
        cold = call({**base, "hook_event_name": "SessionStart", "source": "startup"}, env)
        print(f"cold SessionStart (no recorder yet): {cold:.1f} ms")
        for name, event in (("UserPromptSubmit", prompt), ("PostToolUse", tool)):
            times = [call(event, env) for _ in range(args.calls)]
            print(
                f"warm {name}: median {statistics.median(times):.1f} ms, "
                f"p95 {p95(times):.1f} ms over {len(times)} calls"
            )
        stop = call({**base, "hook_event_name": "Stop", "stop_hook_active": False}, env)
        print(f"Stop: {stop:.1f} ms")
        bare = []
        for _ in range(args.calls):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            bare.append((time.perf_counter() - t) * 1000)
        print(f"reference: bare `python -c pass` median {statistics.median(bare):.1f} ms")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
