"""Claude Code hook payloads → the small, secret-free records the spool stores.

Only what memory needs leaves this module: the event kind, the session, the project,
the prompt (as the task), and for a tool call its name, a one-line summary of its
input (the command, the file path, the search pattern — never file contents, never
environment values) and whether it worked with a short reason. Everything is redacted
and clipped here, in the hook process, so nothing secret or large is ever written.

Input fields follow Claude Code's hooks reference: every event carries ``session_id``,
``cwd`` and ``hook_event_name``; ``SessionStart`` has ``source``, ``UserPromptSubmit``
``prompt``, ``PostToolUse`` ``tool_name``/``tool_input``/``tool_response``,
``PostToolUseFailure`` ``tool_name``/``tool_input``/``error``/``is_interrupt``,
``SessionEnd`` ``reason``.
"""

from __future__ import annotations

import os
import time

from memory_cli.hooks._redact import redact

TYPE_CHECKING = False  # typing is not imported at run time: this is the hook's fast path
if TYPE_CHECKING:
    from typing import Any

RECORD_VERSION = 1
PROMPT_CHARS = 2_000
ACTION_CHARS = 240
REASON_CHARS = 200
OUTPUT_CHARS = 160

# hook_event_name → record kind
KINDS = {
    "SessionStart": "start",
    "UserPromptSubmit": "prompt",
    "PostToolUse": "step",
    "PostToolUseFailure": "step",
    "Stop": "stop",
    "SubagentStop": "ignore",
    "SessionEnd": "end",
}
CONTEXT_KINDS = frozenset({"start", "prompt"})

# A test or build command: its result is what the episode's outcome is inferred from.
# Matched word by word (no regex: ``re`` would cost every Bash call ~5 ms).
_CHECK_TOOLS = frozenset(
    [
        "pytest",
        "py.test",
        "tox",
        "nox",
        "unittest",
        "jest",
        "vitest",
        "mocha",
        "ava",
        "phpunit",
        "rspec",
        "ctest",
        "mypy",
        "pyright",
        "tsc",
        "eslint",
        "ruff",
        "make",
    ]
)
# tool → the subcommands that make it a check (the next word)
_CHECK_SUBCOMMANDS = {
    "cargo": frozenset({"test", "build", "check", "clippy"}),
    "go": frozenset({"test", "build", "vet"}),
    "dotnet": frozenset({"test", "build"}),
    "swift": frozenset({"test", "build"}),
    "mix": frozenset({"test"}),
    "cmake": frozenset({"--build"}),
}
_JS_RUNNERS = frozenset({"npm", "pnpm", "yarn", "bun"})
_JS_SCRIPTS = frozenset({"test", "build", "lint", "check"})
# how the first non-option word after gradle / mvn ends (``./gradlew app:test``,
# ``mvn -q verify``)
_GRADLE_TASKS = ("test", "build", "check")
_MAVEN_GOALS = ("test", "verify", "package")
_SHELL_SEPARATORS = str.maketrans(";&|()", "     ")


def is_check(command: str) -> bool:
    """Whether a shell command runs tests, a build, a type check or a linter."""
    words = command.translate(_SHELL_SEPARATORS).split()
    for i, word in enumerate(words):
        if _runs_ci_script(word):
            return True
        name = word.rsplit("/", 1)[-1]  # .venv/bin/pytest is pytest
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if name in _CHECK_TOOLS or nxt in _CHECK_SUBCOMMANDS.get(name, ()):
            return True
        if name in _JS_RUNNERS:
            script = words[i + 2] if nxt == "run" and i + 2 < len(words) else nxt
            if script in _JS_SCRIPTS:
                return True
        if name == "mvn" and _goal(words, i).endswith(_MAVEN_GOALS):
            return True
        gradle = name.startswith("gradle") and _word_chars(name[6:])  # gradlew, gradle8
        if gradle and _goal(words, i).endswith(_GRADLE_TASKS):
            return True
    return False


def _goal(words: list[str], i: int) -> str:
    """The first word after ``words[i]`` that is not an option."""
    for word in words[i + 1 :]:
        if not word.startswith("-"):
            return word
    return ""


def _runs_ci_script(word: str) -> bool:
    """``.ci/run``, ``./.ci/test.sh``: a script of the project's CI folder."""
    at = word.find(".ci/")
    while at >= 0:
        if (at == 0 or word[at - 1] == "/") and len(word) > at + 4:
            return True
        at = word.find(".ci/", at + 1)
    return False


def _word_chars(text: str) -> bool:
    return not text or text.replace("_", "a").isalnum()


# tool_input keys whose (short) value says what a call did; any other key is named only.
_SUMMARY_KEYS = (
    "command",
    "file_path",
    "notebook_path",
    "path",
    "pattern",
    "url",
    "query",
    "description",
    "subagent_type",
    "skill",
)


class HookInputError(ValueError):
    """The payload is not a Claude Code hook event this command understands."""


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _str(payload: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = payload.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise HookInputError(f"hook input field {key!r} must be a non-empty string")
    return value


def _relative(path: str, cwd: str) -> str:
    if cwd and path.startswith(cwd.rstrip("/") + "/"):
        return path[len(cwd.rstrip("/")) + 1 :]
    return path


def summarize_input(tool: str, tool_input: Any, cwd: str) -> str:
    """One line saying what a tool call did, from its input, without contents."""
    if not isinstance(tool_input, dict):
        return ""
    parts: list[str] = []
    for key in _SUMMARY_KEYS:
        value = tool_input.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        if key == "description" and parts:
            continue  # the command or path already says it
        if key in ("file_path", "notebook_path", "path"):
            value = _relative(value, cwd)
        parts.append(value if key in ("command", "file_path") else f"{key}={value}")
    if not parts:
        names = sorted(k for k in tool_input if isinstance(k, str))[:6]
        return f"({', '.join(names)})" if names else ""
    return clip(redact(" ".join(parts)), ACTION_CHARS)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _last_line(text: str) -> str:
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()
    return ""


def _tool_result(payload: dict[str, Any], failed: bool, check: bool) -> tuple[bool, str, str]:
    """(ok, reason on failure, short output of a check command on success)."""
    if failed:
        error = payload.get("error")
        reason = _first_line(error) if isinstance(error, str) else ""
        if payload.get("is_interrupt") is True:
            reason = "interrupted by the user" + (f": {reason}" if reason else "")
        return False, clip(redact(reason or "the tool call failed"), REASON_CHARS), ""
    response = payload.get("tool_response")
    if isinstance(response, dict):
        code = next(
            (response[k] for k in ("exit_code", "exitCode", "returncode") if k in response), 0
        )
        stdout = response.get("stdout")
        stdout = stdout if isinstance(stdout, str) else ""
        stderr = response.get("stderr")
        stderr = stderr if isinstance(stderr, str) else ""
        if response.get("interrupted") is True:
            return False, "interrupted", ""
        if isinstance(code, int) and code != 0:
            why = _last_line(stderr) or _last_line(stdout) or f"exit code {code}"
            return False, clip(redact(why), REASON_CHARS), ""
        if response.get("success") is False:
            return False, "the tool reported failure", ""
        if check:
            return True, "", clip(redact(_last_line(stdout) or _last_line(stderr)), OUTPUT_CHARS)
    return True, "", ""


def project_of(cwd: str) -> str:
    """The project a session works in: the name of its directory."""
    name = os.path.basename(cwd.rstrip("/")) if cwd else ""
    return clip(redact(name), 80) or "unknown"


def to_record(payload: Any, agent: str) -> dict[str, Any] | None:
    """The spool record for one hook payload, or ``None`` for an event memory ignores.

    Raises:
        HookInputError: the payload is not an object or lacks a required field.
    """
    if not isinstance(payload, dict):
        raise HookInputError("hook input must be a JSON object")
    event = _str(payload, "hook_event_name", required=True)
    kind = KINDS.get(event)
    if kind is None:
        raise HookInputError(f"unknown hook_event_name {event!r}")
    if kind == "ignore":
        return None
    session = _str(payload, "session_id", required=True)
    cwd = _str(payload, "cwd")
    record: dict[str, Any] = {
        "v": RECORD_VERSION,
        "id": os.urandom(8).hex(),
        "agent": agent,
        "kind": kind,
        "event": event,
        "session": clip(session, 200),
        "project": project_of(cwd),
        "at": time.time(),
    }
    if kind == "start":
        record["source"] = clip(_str(payload, "source"), 40)
    elif kind == "prompt":
        prompt = _str(payload, "prompt", required=True)
        record["prompt"] = clip(redact(prompt), PROMPT_CHARS)
    elif kind == "step":
        tool = clip(_str(payload, "tool_name", required=True), 120)
        action = summarize_input(tool, payload.get("tool_input"), cwd)
        check = tool == "Bash" and is_check(action)
        ok, reason, output = _tool_result(payload, event == "PostToolUseFailure", check)
        record.update(tool=tool, action=action, ok=ok, check=check)
        if reason:
            record["reason"] = reason
        if output:
            record["output"] = output
    elif kind == "end":
        record["reason"] = clip(_str(payload, "reason"), 80)
    return record
