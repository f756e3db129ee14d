"""Wall time of ``memory hook claude-code`` per event, as Claude Code runs it: a new
process of the console script per call, the event's JSON on stdin, default settings.

    uv run python benchmarks/hook_latency.py                 # 40 warm, 5 cold calls per event
    uv run python benchmarks/hook_latency.py --calls 100 --cold 10

Runs in a temporary directory (its own database and hook directory). First it records
``--sessions`` short sessions through the hook, so that prompts find past work; then:

- warm: the background recorder runs; sessions are sent in order, each prompt a
  different paraphrase of a recorded task (so no prompt's vector is already known), and
  each call's time is kept by event. Between the prompt and the first tool call an agent
  thinks (seconds, in practice); that is stood for by waiting until the recorder is idle,
  untimed. A paraphrase's context counts as "on the prompt" when the prompt's call
  printed it, "late" when the next tool call did (``_pending``); an unrelated prompt's
  context anywhere counts as a false recall;
- first prompt: SessionStart finds no recorder (and starts it), the prompt comes at once
  while it starts, then the next tool call after it is up: does the late context arrive;
- cold: before each call the recorder is stopped, so the call finds none (and starts it).

Prints median and p95 per event in milliseconds, the recall counts, and
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
# Paraphrases of the tasks above (by index), each asked in several framings, so that
# every warm prompt is a text the recorder has not embedded before.
PARAPHRASES = (
    (0, "the login test in auth fails again, please repair it"),
    (0, "auth module: the login test is red, make it pass"),
    (1, "throttle repeated login attempts on the sign-in endpoint"),
    (1, "limit how often a client may call the login route"),
    (2, "users get no email when they reset their password, find out why"),
    (2, "password reset mails never arrive, investigate"),
    (3, "move session storage over to redis and tidy that code"),
    (3, "restructure the session store so it is backed by redis"),
    (4, "add unit tests covering refreshing access tokens"),
    (4, "test the token refresh logic"),
)
FRAMINGS = ("{}", "please {}", "{} today", "can you {}?")
# Distinct topics: an unrelated prompt asked twice would rightly recall its own first
# session (which the hook recorded), so --calls up to 50 never repeats one.
UNRELATED = (
    "write a haiku about autumn leaves for the newsletter",
    "what is the capital of mongolia",
    "draft a birthday message for my aunt",
    "translate good morning into portuguese",
    "suggest a name for our new office plant",
    "how many tablespoons are in a cup",
    "summarize the plot of moby dick in two sentences",
    "plan a three day hiking trip in the alps",
    "recommend a board game for six players",
    "explain the offside rule in football",
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


def prompts(n: int) -> list[tuple[str, bool]]:
    """``n`` distinct prompts, (text, whether it paraphrases a recorded task); one in
    five is unrelated to every task."""
    out: list[tuple[str, bool]] = []
    related = [f.format(p) for f in FRAMINGS for _, p in PARAPHRASES]
    for i in range(n):
        if i % 5 == 4:
            out.append((UNRELATED[(i // 5) % len(UNRELATED)], False))
        else:
            out.append((related[(i - i // 5) % len(related)], True))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=40, help="warm calls per event")
    parser.add_argument("--cold", type=int, default=5, help="cold calls per event")
    parser.add_argument("--sessions", type=int, default=10, help="sessions recorded first")
    parser.add_argument(
        "--wait-ms", type=float, help="MEMORY_HOOK_WAIT_MS for the run (default: its default)"
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="hook-bench-"))
    hooks = root / "hooks"
    env = {
        **os.environ,
        "DATABASE_URL": f"file:{root / 'memory.db'}",
        "MEMORY_CACHE_PATH": str(root / "cache"),
        "MEMORY_HOOK_DIR": str(hooks),
    }
    env.pop("MEMORY_HOOK_WAIT_MS", None)  # the defaults are what is measured
    if args.wait_ms is not None:
        env["MEMORY_HOOK_WAIT_MS"] = str(args.wait_ms)
    cwd = str(root / "shop")
    try:
        for i in range(args.sessions):  # past work, recorded through the hook itself
            for event in session(f"seed-{i}", cwd, TASKS[i % len(TASKS)]):
                call(event, env)
        wait_for_recorder(hooks)
        ask(hooks, "ingest")

        warm: dict[str, list[float]] = {e: [] for e in EVENTS}
        warm["PostToolUse (Read)"] = []
        recall = {"on the prompt": 0, "late": 0, "none": 0}
        false_recall = unrelated = playbook_late = 0
        asked = prompts(args.calls)
        for n, (prompt, related) in enumerate(asked):
            got = ""
            for event in session(f"warm-{n}", cwd, prompt):
                ms, out = call(event, env)
                name = event["hook_event_name"]
                if name == "PostToolUse" and event["tool_name"] == "Read":
                    name = "PostToolUse (Read)"
                warm[name].append(ms)
                if name == "UserPromptSubmit":
                    got = "on the prompt" if out else ""
                    ask(hooks, "ping")  # the agent thinks before its first tool call
                elif name == "PostToolUse (Read)" and out:
                    playbook_late += got == "on the prompt"  # the episodes came in time
                    got = got or "late"
            if related:
                recall[got or "none"] += 1
            else:
                unrelated += 1
                false_recall += bool(got)

        stats = ask(hooks, "ping") or {}
        recall_ms = [float(x) for x in stats.get("recall_ms", [])][-len(asked) :]
        cpu_ms = [float(x) for x in stats.get("cpu_ms", [])][-len(asked) :]
        full_ms = [float(x) for x in stats.get("full_ms", [])][-len(asked) :]
        full_cpu_ms = [float(x) for x in stats.get("full_cpu_ms", [])][-len(asked) :]
        first = {"on the prompt": 0, "late": 0, "none": 0}
        for n in range(args.cold):
            stop_recorder(hooks)
            prompt = asked[n % len(asked)][0] if asked[n % len(asked)][1] else asked[0][0]
            events = session(f"first-{n}", cwd, prompt)
            call(events[0], env)  # SessionStart: no recorder, this call starts it
            out = call(events[1], env)[1]  # the prompt, while the recorder starts
            wait_for_recorder(hooks)  # the agent thinks; the recorder is up meanwhile
            ask(hooks, "ping")
            late = call(events[2], env)[1]
            first["on the prompt" if out else "late" if late else "none"] += 1
            for event in events[3:]:
                call(event, env)

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

        related_n = sum(recall.values())
        wait = "default" if args.wait_ms is None else f"MEMORY_HOOK_WAIT_MS={args.wait_ms:g}"
        print(f"{args.sessions} sessions recorded first; {os.cpu_count()} CPUs; wait: {wait}")
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print("warm (recorder running):")
        for name, values in warm.items():
            print("  " + line(name, values))
        print(
            f"  paraphrase prompts with context: {recall['on the prompt']}/{related_n} on the "
            f"prompt, {recall['late']}/{related_n} late (next tool call), "
            f"{recall['none']}/{related_n} none"
        )
        print(
            f"  of those on the prompt, the playbook late (next tool call): "
            f"{playbook_late}/{recall['on the prompt']}"
        )
        print(f"  unrelated prompts with context: {false_recall}/{unrelated}")
        if recall_ms:
            print("  " + line("recorder: prompt → episodes", recall_ms))
            print("  " + line("  of which its CPU time", cpu_ms))
            if full_ms:
                print("  " + line("  → with the playbook", full_ms))
                print("  " + line("  of which its CPU time", full_cpu_ms))
        print(
            f"first prompt while SessionStart's recorder starts: {first['on the prompt']} on the "
            f"prompt, {first['late']} late, {first['none']} none (of {args.cold})"
        )
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
