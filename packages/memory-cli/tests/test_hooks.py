"""``memory hook claude-code`` in real processes: a recorded Claude Code session replayed
through the installed console script, a real background recorder, a real database file.

A hook call never waits for a recorder that is starting (it answers without context), so
a test that needs context first waits until the recorder started by its first event
answers; context requests then wait for the answer (``MEMORY_HOOK_WAIT_MS``), so each test
is deterministic without sleeping. The recorder is stopped (after ingesting) at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from memory_core import MemoryConfig, SelfLearningMemory

SCRIPT = Path(sys.executable).with_name("memory")
SESSION = Path(__file__).with_name("data") / "claude_code_session.jsonl"


def hook(event: dict[str, Any] | str) -> subprocess.CompletedProcess[str]:
    stdin = event if isinstance(event, str) else json.dumps(event)
    return subprocess.run(
        [str(SCRIPT), "hook", "claude-code"],
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )


def session_events(session: str, cwd: str) -> list[dict[str, Any]]:
    text = SESSION.read_text(encoding="utf-8").replace("{session}", session).replace("{cwd}", cwd)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def stored(env: Any, recorder: Any) -> SelfLearningMemory:
    recorder.stop()  # ingests everything spooled, then exits
    return SelfLearningMemory.from_config(MemoryConfig.load(None, database_url=env.database_url))


def context_of(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0 and result.stderr == "", result.stderr
    if not result.stdout:
        return ""
    out = json.loads(result.stdout)
    assert out["hookSpecificOutput"]["hookEventName"] == "UserPromptSubmit"
    context = out["hookSpecificOutput"]["additionalContext"]
    assert isinstance(context, str) and context
    return context


def test_replayed_session_is_one_episode_and_is_recalled_for_a_paraphrase(
    env: Any, recorder: Any
) -> None:
    cwd = str(env.root / "shop")
    for event in session_events("s-1", cwd):
        r = hook(event)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        # nothing relevant is known yet: no output at all, not even empty JSON
        assert r.stdout == ""
    recorder.wait()

    paraphrase = {
        "session_id": "s-2",
        "cwd": cwd,
        "hook_event_name": "UserPromptSubmit",
        "prompt": "the auth module's login test fails again, please repair it",
    }
    context = context_of(hook(paraphrase))
    assert "Fix the failing login test in the auth module" in context
    assert "pytest tests/test_login.py -q" in context
    assert len(context) / 4 <= 600

    unrelated = {
        "session_id": "s-3",
        "cwd": cwd,
        "hook_event_name": "UserPromptSubmit",
        "prompt": "write a haiku about autumn leaves for the newsletter",
    }
    assert context_of(hook(unrelated)) == ""

    with stored(env, recorder) as memory:
        done = memory.list_episodes({"status": "completed"}).items
        assert len(done) == 1
        episode = memory.get_episode(done[0].id)
    assert episode.task_description == "Fix the failing login test in the auth module"
    assert episode.context.domain == "shop"
    assert [(s.tool, s.action, s.ok) for s in episode.steps] == [
        ("Read", "auth/login.py", True),
        ("Bash", "pytest tests/test_login.py -q", False),
        ("Edit", "auth/login.py", True),
        ("Bash", "pytest tests/test_login.py -q", True),
    ]
    assert [s.step_number for s in episode.steps] == [1, 2, 3, 4]
    assert episode.steps[1].result is not None
    assert episode.steps[1].result.message == "Exit code 1"
    assert episode.outcome is not None and episode.outcome.type.value == "success"
    assert episode.outcome.verdict.startswith("inferred: the last check passed")
    assert "4 passed" in episode.outcome.verdict
    assert episode.metadata["outcome_inferred"] is True
    # file contents never stored
    raw = episode.model_dump_json()
    assert "password_ok" not in raw and "def login" not in raw


def test_a_failing_last_check_is_an_inferred_failure(env: Any, recorder: Any) -> None:
    cwd = str(env.root / "shop")
    events = session_events("s-f", cwd)
    for event in events[:4] + events[-1:]:  # ends after the failing test run
        assert hook(event).returncode == 0
    with stored(env, recorder) as memory:
        (summary,) = memory.list_episodes({"status": "completed"}).items
        episode = memory.get_episode(summary.id)
    assert episode.outcome is not None and episode.outcome.type.value == "failure"
    assert episode.outcome.reason is not None
    assert episode.outcome.reason.startswith("inferred: the last check failed")


SECRETS = {
    "api_key": "sk-proj-Zq8fT3vX9kL2mN4pR6sW1yB5cD7eG0hJ",
    "bearer": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZXYifQ.c2lnbmF0dXJlX3ZhbHVl",
    "github": "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    "env_value": "hunter2-correct-horse",
    "url_password": "s3cr3t-pw-in-url",
}


def test_secrets_are_redacted_before_anything_is_written(env: Any, recorder: Any) -> None:
    cwd = str(env.root / "shop")
    base = {"session_id": "s-x", "cwd": cwd, "permission_mode": "default"}
    events = [
        {
            **base,
            "hook_event_name": "UserPromptSubmit",
            "prompt": f"deploy with OPENAI_API_KEY={SECRETS['api_key']} and check the logs",
        },
        {
            **base,
            "hook_event_name": "PostToolUse",
            "tool_name": "Bash",
            "tool_input": {"command": f"OPENAI_API_KEY={SECRETS['api_key']} pytest -q"},
            "tool_response": {"stdout": f"using key {SECRETS['api_key']}\n2 passed", "stderr": ""},
        },
        {
            **base,
            "hook_event_name": "PostToolUse",
            "tool_name": "Bash",
            "tool_input": {
                "command": "curl -H 'Authorization: Bearer "
                f"{SECRETS['bearer']}' https://api.example.com/v1/me"
            },
            "tool_response": {"stdout": "{}", "stderr": ""},
        },
        {
            **base,
            "hook_event_name": "PostToolUse",
            "tool_name": "Write",
            "tool_input": {
                "file_path": f"{cwd}/.env",
                "content": f"DB_PASSWORD={SECRETS['env_value']}\n",
            },
            "tool_response": {"filePath": f"{cwd}/.env"},
        },
        {
            **base,
            "hook_event_name": "PostToolUse",
            "tool_name": "Bash",
            "tool_input": {"command": f"echo 'DB_PASSWORD={SECRETS['env_value']}' >> .env"},
            "tool_response": {"stdout": "", "stderr": ""},
        },
        {
            **base,
            "hook_event_name": "PostToolUseFailure",
            "tool_name": "Bash",
            "tool_input": {
                "command": f"git push https://dev:{SECRETS['url_password']}@git.example.com/r"
                f" --token {SECRETS['github']}"
            },
            "error": f"remote rejected token {SECRETS['github']}",
        },
        {**base, "hook_event_name": "Stop"},
    ]
    for event in events:
        r = hook(event)
        assert r.returncode == 0 and r.stderr == "", r.stderr
    with stored(env, recorder) as memory:
        (summary,) = memory.list_episodes({"status": "completed"}).items
        steps = memory.get_episode(summary.id).steps
    assert len(steps) == 5 and "[REDACTED]" in summary.task_description
    assert steps[2].action == ".env"  # a Write is its path, never its content
    memory.close()
    blobs = [p for p in env.root.rglob("*") if p.is_file() and p.suffix != ".py"]
    assert any(p.name.startswith("memory.db") for p in blobs)
    for path in blobs:
        data = path.read_bytes()
        for name, secret in SECRETS.items():
            assert secret.encode() not in data, f"{name} found in {path}"


@pytest.mark.parametrize(
    "stdin",
    [
        "",
        "not json",
        "[1, 2]",
        '{"hook_event_name": "NoSuchEvent", "session_id": "s"}',
        '{"hook_event_name": "PostToolUse", "cwd": "/x", "tool_name": "Bash"}',
        '{"hook_event_name": "UserPromptSubmit", "session_id": "s", "prompt": 42}',
        '{"session_id": "s", "prompt": "no event name"}',
    ],
)
def test_malformed_input_exits_0_with_one_stderr_line_and_stores_nothing(
    env: Any, recorder: Any, stdin: str
) -> None:
    hook_dir = recorder.directory
    r = hook(stdin)
    assert r.returncode == 0
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("memory hook: ")
    assert not hook_dir.exists() or not any(hook_dir.iterdir())
    assert not env.db_path.exists()


def test_unknown_agent_is_one_line_too(env: Any, recorder: Any) -> None:
    r = subprocess.run(
        [str(SCRIPT), "hook", "vim"], input="{}", capture_output=True, text=True, timeout=60
    )
    assert (r.returncode, r.stdout, r.stderr.count("\n")) == (0, "", 1)


THEIRS = {
    "permissions": {"allow": ["Bash(npm test:*)"]},
    "hooks": {
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "./guard.sh"}]}
        ],
        "PostToolUse": [
            {"matcher": "Write|Edit", "hooks": [{"type": "command", "command": "prettier -w"}]}
        ],
    },
}


def test_install_merges_once_keeps_theirs_and_uninstall_restores(env: Any, run: Any) -> None:
    settings = env.work / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps(THEIRS, indent=2) + "\n")
    os.chdir(env.work)

    dry = run("hooks", "install", "claude-code", "--project", "--dry-run")
    assert "+" in dry.stdout and "memory hook claude-code" in dry.stdout
    assert json.loads(settings.read_text()) == THEIRS  # nothing written

    for _ in range(2):  # idempotent
        run("hooks", "install", "claude-code", "--project")
    data = json.loads(settings.read_text())
    assert data["permissions"] == THEIRS["permissions"]
    assert data["hooks"]["PreToolUse"] == THEIRS["hooks"]["PreToolUse"]
    assert data["hooks"]["PostToolUse"][0] == THEIRS["hooks"]["PostToolUse"][0]
    for event in (
        "SessionStart",
        "UserPromptSubmit",
        "PostToolUse",
        "PostToolUseFailure",
        "Stop",
        "SessionEnd",
    ):
        commands = [h["command"] for g in data["hooks"][event] for h in g["hooks"]]
        assert commands.count("memory hook claude-code") == 1, event

    run("hooks", "uninstall", "claude-code", "--project")
    assert json.loads(settings.read_text()) == THEIRS


def test_install_refuses_a_broken_settings_file(env: Any, run: Any) -> None:
    settings = env.work / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text("{not json")
    r = run("hooks", "install", "claude-code", "--project", code=1)
    assert "not valid JSON" in r.stderr
    assert settings.read_text() == "{not json"
