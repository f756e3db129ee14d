"""Wall time of ``memory hook claude-code`` per event, as Claude Code runs it: a new
process of the console script per call, the event's JSON on stdin.

    uv run python benchmarks/hook_latency.py                 # 40 warm, 5 cold calls per event
    uv run python benchmarks/hook_latency.py --calls 100 --cold 10

Runs in a temporary directory (its own database and hook directory). First it records
``--sessions`` short sessions through the hook, so that prompts find past work; then:

- warm: the background recorder runs; the events of a session are sent in order, again
  and again, and each call's time is kept by event;
- cold: before each call the recorder is stopped, so the call finds none (and starts it).

Prints median and p95 per event in milliseconds, how many prompts got context, and
``python -c pass`` measured in the same run as the reference for a noisy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCRIPT = Path(sys.executable).with_name("memory")
EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PostToolUse",
    "PostToolUseFailure",
    "Stop",
    "SessionEnd",
)


def call(event: dict[str, Any], env: dict[str, str]) -> tuple[float, str]:
    t = time.perf_counter()
    done = subprocess.run(
        [str(SCRIPT), "hook", "claude-code"],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    elapsed = (time.perf_counter() - t) * 1000
    if done.stderr:
        raise SystemExit(f"the hook wrote to stderr: {done.stderr}")
    return elapsed, done.stdout


def session(sid: str, cwd: str, prompt: str) -> list[dict[str, Any]]:
    """One short coding session: a prompt, a read, a failing test, an edit, a passing test."""
    base = {"session_id": sid, "cwd": cwd, "transcript_path": f"{cwd}/{sid}.jsonl"}
    bash = {**base, "tool_name": "Bash"}
    return [
        {**base, "hook_event_name": "SessionStart", "source": "startup"},
        {**base, "hook_event_name": "UserPromptSubmit", "prompt": prompt},
        {
            **base,
            "hook_event_name": "PostToolUse",
            "tool_name": "Read",
            "tool_input": {"file_path": f"{cwd}/src/auth/login.py"},
            "tool_response": {"type": "text", "file": {"content": "def login(): ..."}},
        },
        {
            **bash,
            "hook_event_name": "PostToolUseFailure",
            "tool_input": {"command": "pytest -q tests/test_login.py"},
            "error": "Exit code 1\nFAILED tests/test_login.py::test_bad_password",
            "is_interrupt": False,
        },
        {
            **base,
            "hook_event_name": "PostToolUse",
            "tool_name": "Edit",
            "tool_input": {"file_path": f"{cwd}/src/auth/login.py", "old_string": "a"},
            "tool_response": {"filePath": f"{cwd}/src/auth/login.py"},
        },
        {
            **bash,
            "hook_event_name": "PostToolUse",
            "tool_input": {"command": "pytest -q tests/test_login.py"},
            "tool_response": {"stdout": "4 passed in 0.2s", "stderr": "", "interrupted": False},
        },
        {**base, "hook_event_name": "Stop", "stop_hook_active": False},
        {**base, "hook_event_name": "SessionEnd", "reason": "exit"},
    ]


TASKS = (
    "fix the failing login test in the auth module",
    "add rate limiting to the login endpoint",
    "the password reset email is not sent, debug it",
    "refactor the session store to use redis",
    "write tests for the token refresh flow",
)


def ask(directory: Path, op: str) -> dict[str, Any] | None:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(120)
            sock.connect(str(directory / "recorder.sock"))
            sock.sendall(json.dumps({"op": op}).encode() + b"\n")
            reply = json.loads(sock.recv(65536).split(b"\n")[0])
            return reply if isinstance(reply, dict) else None
    except (OSError, ValueError):
        return None


def wait_for_recorder(directory: Path) -> int:
    """The recorder's pid, once it answers."""
    for _ in range(6000):
        reply = ask(directory, "ping")
        if reply is not None:
            return int(reply["pid"])
        time.sleep(0.02)
    raise SystemExit("the recorder did not start")


def stop_recorder(directory: Path) -> None:
    """Ingest and stop; returns when the recorder process is gone (not only its socket)."""
    pid = wait_for_recorder(directory)
    ask(directory, "shutdown")
    while os.path.exists(f"/proc/{pid}"):
        time.sleep(0.01)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def line(label: str, values: list[float]) -> str:
    return (
        f"{label:28s} median {statistics.median(values):6.1f} ms  p95 {p95(values):6.1f} ms"
        f"  (n={len(values)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=40, help="warm calls per event")
    parser.add_argument("--cold", type=int, default=5, help="cold calls per event")
    parser.add_argument("--sessions", type=int, default=10, help="sessions recorded first")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="hook-bench-"))
    hooks = root / "hooks"
    env = {
        **os.environ,
        "DATABASE_URL": f"file:{root / 'memory.db'}",
        "MEMORY_CACHE_PATH": str(root / "cache"),
        "MEMORY_HOOK_DIR": str(hooks),
    }
    cwd = str(root / "shop")
    try:
        for i in range(args.sessions):  # past work, recorded through the hook itself
            for event in session(f"seed-{i}", cwd, TASKS[i % len(TASKS)]):
                call(event, env)
        wait_for_recorder(hooks)
        ask(hooks, "ingest")

        warm: dict[str, list[float]] = {e: [] for e in EVENTS}
        with_context = 0
        prompts = 0
        n = 0
        while min(len(v) for v in warm.values()) < args.calls:
            prompt = "the login test in auth fails again, please repair it"
            for event in session(f"warm-{n}", cwd, prompt):
                ms, out = call(event, env)
                name = event["hook_event_name"]
                if name == "PostToolUse" and event["tool_name"] == "Read":
                    name = "PostToolUse (Read)"
                    warm.setdefault(name, [])
                warm[name].append(ms)
                if name == "UserPromptSubmit":
                    prompts += 1
                    with_context += bool(out)
            n += 1
        cold: dict[str, list[float]] = {e: [] for e in EVENTS}
        sample = session("cold", cwd, "the login test in auth fails again, please repair it")
        by_name = {e["hook_event_name"]: e for e in sample}
        for _ in range(args.cold):
            for name in EVENTS:
                stop_recorder(hooks)
                cold[name].append(call(by_name[name], env)[0])
        stop_recorder(hooks)

        bare = []
        for _ in range(args.calls):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            bare.append((time.perf_counter() - t) * 1000)

        print(f"{args.sessions} sessions recorded first; {os.cpu_count()} CPUs")
        print("warm (recorder running):")
        for name, values in warm.items():
            print("  " + line(name, values))
        print(f"  prompts answered with context: {with_context}/{prompts}")
        print("cold (no recorder: the call starts it):")
        for name, values in cold.items():
            print("  " + line(name, values))
        print("reference:")
        print("  " + line("python -c pass", bare))
    finally:
        ask(hooks, "shutdown")  # a recorder left running would outlive its deleted directory
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
