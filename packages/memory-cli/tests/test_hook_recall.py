"""Recall at the default settings: a paraphrase of a recorded task gets that episode,
either on its prompt (when the recorder answers within ``MEMORY_HOOK_WAIT_MS``) or, when
the answer came too late, on the session's next tool call; never both, never twice, and
an unrelated prompt gets nothing either way. After a turn without a tool call, a late
context waits for the next prompt, and is shown there only while it still applies.

Which of the two carries it depends on the machine's speed, so the tests assert the
pair: deterministic without timing anything. Between a prompt and the next tool call
the test waits until the recorder is idle (a ``ping``, answered after the recall), as an
agent thinking about the prompt does. ``MEMORY_HOOK_WAIT_MS=0`` forces the late path.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(sys.executable).with_name("memory")
SESSION = Path(__file__).with_name("data") / "claude_code_session.jsonl"
TASK = "Fix the failing login test in the auth module"
PARAPHRASE = "the auth module's login test fails again, please repair it"
UNRELATED = "write a haiku about autumn leaves for the newsletter"


def hook(event: dict[str, Any] | str) -> tuple[str, str]:
    """(hookEventName, additionalContext) the call printed; ("", "") for no output."""
    stdin = event if isinstance(event, str) else json.dumps(event)
    r = subprocess.run(
        [str(SCRIPT), "hook", "claude-code"],
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert r.returncode == 0 and r.stderr == "", r.stderr
    if not r.stdout:
        return "", ""
    out = json.loads(r.stdout)["hookSpecificOutput"]
    assert isinstance(out["additionalContext"], str) and out["additionalContext"]
    return out["hookEventName"], out["additionalContext"]


def events(session: str, cwd: str, prompt: str | None = None) -> list[dict[str, Any]]:
    text = SESSION.read_text(encoding="utf-8").replace("{session}", session).replace("{cwd}", cwd)
    out = [json.loads(line) for line in text.splitlines() if line.strip()]
    if prompt is not None:
        out[1]["prompt"] = prompt
    return out


@pytest.fixture
def recorded(env: Any, recorder: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """One session recorded through the hook; the defaults restored for what follows."""
    return record_one(env, recorder, monkeypatch)


@pytest.fixture
def recorded_encrypted(env: Any, recorder: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The same, into an encrypted database (``MEMORY_ENCRYPT_DATABASE``)."""
    key = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("MEMORY_ENCRYPT_DATABASE", "true")
    monkeypatch.setenv("MEMORY_ENCRYPTION_KEYS", f"k1:{key}")
    return record_one(env, recorder, monkeypatch)


def record_one(env: Any, recorder: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    cwd = str(env.root / "shop")
    for event in events("s-1", cwd):
        assert hook(event) == ("", "")
    recorder.wait()
    recorder.ask("ingest")
    monkeypatch.delenv("MEMORY_HOOK_WAIT_MS")
    return cwd


def prompt_then_tool(recorder: Any, session: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Outputs of SessionStart, the prompt, then (the agent having thought: the recorder
    is idle) the first two tool calls."""
    out = [hook(session[0]), hook(session[1])]
    recorder.wait()
    out += [hook(session[2]), hook(session[3])]
    return out


def test_a_paraphrase_gets_the_episode_once_at_the_default_settings(
    recorded: str, recorder: Any
) -> None:
    start, prompt, read, bash = prompt_then_tool(recorder, events("s-2", recorded, PARAPHRASE))
    assert start == ("", "")  # a new session has no task yet
    carried = [(name, ctx) for name, ctx in (prompt, read) if ctx]
    assert [name for name, _ in carried] in (
        ["UserPromptSubmit"],  # all of it in time
        ["PostToolUse"],  # all of it late
        ["UserPromptSubmit", "PostToolUse"],  # the episodes in time, the playbook late
    ), (prompt, read)
    assert sum(TASK in ctx for _, ctx in carried) == 1, carried  # the episode once
    whole = "\n".join(ctx for _, ctx in carried)
    assert "pytest tests/test_login.py -q" in whole and "Playbook for this task:" in whole
    assert whole.count("Playbook for this task:") == 1
    assert all(len(ctx) / 4 <= 600 for _, ctx in carried)
    assert bash == ("", "")  # delivered once


def test_an_unrelated_prompt_gets_nothing_at_the_default_settings(
    recorded: str, recorder: Any
) -> None:
    outputs = prompt_then_tool(recorder, events("s-3", recorded, UNRELATED))
    assert outputs == [("", "")] * 4


def test_context_that_missed_its_prompt_comes_with_the_next_tool_call(
    recorded: str, recorder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMORY_HOOK_WAIT_MS", "0")  # no prompt call waits: always late
    start, prompt, read, bash = prompt_then_tool(recorder, events("s-4", recorded, PARAPHRASE))
    assert (start, prompt, bash) == (("", ""), ("", ""), ("", ""))
    assert read[0] == "PostToolUse" and TASK in read[1]
    assert not list(recorder.directory.glob("context.*"))


def late_then_stop(recorder: Any, session: list[dict[str, Any]]) -> None:
    """A prompt whose context comes too late, then a turn that ends without a tool."""
    stop = session[-1]
    assert stop["hook_event_name"] == "Stop"
    assert hook(session[0]) == hook(session[1]) == ("", "")
    recorder.wait()
    assert list(recorder.directory.glob("context.*"))  # kept for the next tool call
    assert hook(stop) == ("", "")  # the agent answered without a tool: the turn is over
    recorder.wait()
    assert list(recorder.directory.glob("context.*"))  # kept for the next prompt


@pytest.mark.parametrize(
    "follow_up",
    ["the login test still fails, keep going", "go on"],  # a shared word; no word at all
)
def test_a_turn_without_a_tool_call_gets_its_late_context_on_the_next_prompt(
    recorded: str, recorder: Any, monkeypatch: pytest.MonkeyPatch, follow_up: str
) -> None:
    monkeypatch.setenv("MEMORY_HOOK_WAIT_MS", "0")  # no call waits: every recall is late
    session = events("s-5", recorded, PARAPHRASE)
    late_then_stop(recorder, session)
    name, context = hook({**session[1], "prompt": follow_up})
    assert name == "UserPromptSubmit" and TASK in context
    recorder.wait()
    _, again = hook(session[2])  # the follow-up's own recall, late: not the same text
    assert again != context


def test_a_late_context_is_not_shown_to_an_unrelated_next_prompt(
    recorded: str, recorder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMORY_HOOK_WAIT_MS", "0")
    session = events("s-5", recorded, PARAPHRASE)
    late_then_stop(recorder, session)
    assert hook({**session[1], "prompt": UNRELATED}) == ("", "")
    recorder.wait()
    assert not list(recorder.directory.glob("context.*"))  # dropped, and none recalled
    assert hook(session[2]) == ("", "")


def test_a_late_context_is_dropped_when_the_session_ends(
    recorded: str, recorder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMORY_HOOK_WAIT_MS", "0")
    session = events("s-5", recorded, PARAPHRASE)
    late_then_stop(recorder, session)
    end = {**session[-1], "hook_event_name": "SessionEnd", "reason": "exit"}
    assert hook(end) == ("", "")
    recorder.wait()
    assert not list(recorder.directory.glob("context.*"))


def test_the_first_prompt_of_a_session_that_starts_the_recorder_gets_context(
    recorded: str, recorder: Any
) -> None:
    recorder.stop()
    session = events("s-6", recorded, PARAPHRASE)
    assert hook(session[0]) == ("", "")  # finds no recorder: starts it, answers at once
    prompt = hook(session[1])  # while it starts (or, on a fast machine, once it is up)
    recorder.wait()
    read = hook(session[2])
    carried = [ctx for _, ctx in (prompt, read) if ctx]
    assert len(carried) == 1 and TASK in carried[0], (prompt, read)


def clear_text_files(root: Path, *needles: str) -> list[str]:
    """Every file under ``root`` holding one of ``needles`` as bytes (a raw scan: the
    database, its WAL, the cache, the hook directory, the logs)."""
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {n}" for n in needles if n.encode() in data]
    return found


def test_with_an_encrypted_database_late_context_is_held_in_memory_not_on_disk(
    recorded_encrypted: str, recorder: Any, env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    recalled = (TASK, "pytest tests/test_login.py -q")  # what the late context shows
    assert clear_text_files(env.root, *recalled) == []  # the recorded session: encrypted
    monkeypatch.setenv("MEMORY_HOOK_WAIT_MS", "0")  # the prompt never waits: late
    session = events("s-7", recorded_encrypted, PARAPHRASE)
    assert hook(session[0]) == hook(session[1]) == ("", "")
    recorder.wait()
    markers = list(recorder.directory.glob("context.*"))
    assert len(markers) == 1 and markers[0].stat().st_size == 0
    assert clear_text_files(env.root, *recalled) == []
    monkeypatch.setenv("MEMORY_HOOK_WAIT_MS", "120000")  # the tool call waits for the text
    name, context = hook(session[2])
    assert name == "PostToolUse" and TASK in context
    assert not list(recorder.directory.glob("context.*"))
    assert hook(session[3]) == ("", "")  # delivered once

    # a turn without a tool call: held for the next prompt, still not on disk
    later = events("s-8", recorded_encrypted, PARAPHRASE)
    monkeypatch.setenv("MEMORY_HOOK_WAIT_MS", "0")
    late_then_stop(recorder, later)
    assert clear_text_files(env.root, *recalled) == []
    monkeypatch.setenv("MEMORY_HOOK_WAIT_MS", "120000")
    name, context = hook({**later[1], "prompt": "go on"})  # no recall of its own
    assert name == "UserPromptSubmit" and TASK in context
    recorder.stop()
    assert clear_text_files(env.root, *recalled) == []
