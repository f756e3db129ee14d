"""What keeps ``memory hook`` fast without changing what it stores: the modules a call
imports, JSON without ``json``, redaction that compiles only the rules that can match,
and the test/build command check without a regex."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from memory_cli.hooks import _jsonio
from memory_cli.hooks._bytecode import FAST_PATH
from memory_cli.hooks._events import is_check
from memory_cli.hooks._redact import RULES, redact

SESSION = Path(__file__).with_name("data") / "claude_code_session.jsonl"

HEAVY = ("json", "re", "typing", "subprocess", "socket", "memory_core", "pydantic", "typer")

PROBE = """
import sys
sys.argv = ["memory", "hook", "claude-code"]
from memory_cli.__main__ import main
try:
    main()
except SystemExit:
    pass
sys.stderr.write(" ".join(sorted(sys.modules)))
"""


@pytest.mark.parametrize(
    "event",
    [
        {"hook_event_name": "PostToolUse", "tool_name": "Read", "tool_input": {"file_path": "a"}},
        {
            "hook_event_name": "PostToolUse",
            "tool_name": "Bash",
            "tool_input": {"command": "uv run pytest -q tests/test_login.py"},
            "tool_response": {"stdout": "4 passed in 0.2s", "stderr": ""},
        },
        {"hook_event_name": "UserPromptSubmit", "prompt": "fix the login test"},
        {"hook_event_name": "Stop"},
    ],
)
def test_a_hook_call_imports_nothing_heavy(env: Any, recorder: Any, event: dict[str, Any]) -> None:
    payload = {"session_id": "s", "cwd": str(env.work), **event}
    r = subprocess.run(
        [sys.executable, "-c", PROBE],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert r.returncode == 0 and r.stdout == ""
    loaded = set(r.stderr.split())
    assert "memory_cli.hooks._fast" in loaded
    assert not [m for m in HEAVY if m in loaded]
    assert {m for m in loaded if m.startswith("memory_cli")} <= set(FAST_PATH)  # compiled
    assert (recorder.directory / "spool.jsonl").exists() or recorder.alive()


def test_the_recorder_compiles_the_fast_path_where_python_reads_it(env: Any, recorder: Any) -> None:
    """Even under ``PYTHONDONTWRITEBYTECODE``: a hook call then compiles nothing."""
    spec = importlib.util.find_spec("memory_cli.hooks._pending")
    assert spec is not None and spec.origin is not None
    cached = Path(importlib.util.cache_from_source(spec.origin))
    cached.unlink(missing_ok=True)
    payload = {"session_id": "s", "cwd": str(env.work), "hook_event_name": "Stop"}
    r = subprocess.run(
        [str(Path(sys.executable).with_name("memory")), "hook", "claude-code"],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        timeout=60,
    )
    assert r.returncode == 0 and r.stdout == r.stderr == ""
    recorder.wait()  # it compiles before it listens
    assert cached.exists()
    source = Path(spec.origin).read_bytes()
    compiled = cached.read_bytes()
    mtime = int.from_bytes(compiled[8:12], "little")
    assert mtime == int(Path(spec.origin).stat().st_mtime) and len(source) == int.from_bytes(
        compiled[12:16], "little"
    )


def eager(text: str) -> str:
    """Every rule applied, no shortcut: what ``redact`` must equal."""
    for pattern, replacement, _ in RULES:
        text = re.sub(pattern, replacement, text)
    return text


SAMPLES = [
    "pytest -q tests/test_login.py",
    "OPENAI_API_KEY=sk-proj-Zq8fT3vX9kL2mN4pR6sW1yB5cD7eG0hJ pytest -q",
    "curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZXYifQ.c2lnbmF0dXJl'",
    "authorization=Basic dXNlcjpwYXNzd29yZDEyMw==",
    "git push https://dev:s3cr3t-pw@git.example.com/r --token ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5",
    "echo 'DB_PASSWORD=hunter2-correct-horse' >> .env",
    "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE; aws s3 ls",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA",
    "xoxb-123456789012-abcdefghij glpat-abcdefghij0123456789 npm_" + "a" * 32,
    "hf_" + "B" * 32 + " AIza" + "c" * 35 + " sk_live_0123456789abcdef",
    '{"api_key": "v4lue", "password": \'pw\', "cookie": x}',
    "mysql --password secret123 -u root --token=abc",
    "the random string Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAB00 is a key",
    "pattern=TODO path=src url=https://example.com/a/b/c/d/e/f/g/h/i/j/k",
    "query=how to rotate an api key; description: passwd reset",
    "X=1 make -j4 && FOO_BAR='a b' ./run.sh",
    "lowercase=fine but UPPER=gone, and a=b",
    "https://github.com/selfmem/selfmem/issues/17#issuecomment-1234567890",
    "ASIA" + "Z" * 16 + " and ghs_" + "q" * 24 + " github_pat_" + "x" * 22,
    "",
    "=== ::: --- ///",
]


@pytest.mark.parametrize("text", SAMPLES + SESSION.read_text().splitlines())
def test_lazy_redaction_equals_applying_every_rule(text: str) -> None:
    assert redact(text) == eager(text)


def test_redaction_removes_the_secrets() -> None:
    out = redact(SAMPLES[1] + " " + SAMPLES[2] + " " + SAMPLES[4] + " " + SAMPLES[5])
    for secret in ("sk-proj-Zq8f", "eyJhbGci", "s3cr3t-pw", "ghp_A1b2", "hunter2"):
        assert secret not in out
    assert "pytest -q" in out


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("pytest -q", True),
        ("uv run pytest tests/x.py -q", True),
        (".venv/bin/pytest", True),
        ("python -m unittest discover", True),
        ("(cd web && npm test)", True),
        ("npm run build", True),
        ("yarn lint", True),
        ("cargo test --all", True),
        ("go vet ./...", True),
        ("make -j4 all", True),
        ("cmake --build build", True),
        ("./gradlew app:test", True),
        ("mvn -q verify", True),
        ("dotnet test", True),
        ("bash .ci/run", True),
        ("cd x; ruff check .", True),
        ("tsc --noEmit", True),
        ("cat pytest.ini", False),
        ("npm run dev", False),
        ("npm test:unit", False),
        ("cargo run", False),
        ("cmake ..", False),
        ("mvn clean install", False),
        ("gradlew assemble", False),
        ("ls .ci/", False),
        ("echo foo.ci/run", False),
        ("git status", False),
        ('"pytest"', False),
        ("X=pytest", False),
    ],
)
def test_check_commands_are_recognized(command: str, expected: bool) -> None:
    assert is_check(command) is expected


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, 'é"\n\u2028', None, True, False], "b": {}, "c": -0.0, "d": 10**20},
        [],
        "text",
        3,
    ],
)
def test_json_round_trips_like_the_json_module(value: Any) -> None:
    text = _jsonio.dumps(value)
    assert text == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert _jsonio.loads(text.encode()) == value
    assert _jsonio.loads(b"\xef\xbb\xbf \n" + text.encode() + b" \n") == value


@pytest.mark.parametrize("raw", [b"", b"  ", b"nope", b'{"a": 1} x', b'{"a":', b"\xff", b"[1,]"])
def test_json_errors_are_value_errors(raw: bytes) -> None:
    with pytest.raises(ValueError):
        _jsonio.loads(raw)
