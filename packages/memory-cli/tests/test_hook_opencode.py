"""The OpenCode plugin (``memory_cli/hooks/opencode/memory.js``) in real Node, calling the
real ``memory hook opencode`` command: OpenCode's events, in the shapes its plugin API
documents, become one episode with its steps and outcome, and a later prompt that
paraphrases the task gets that episode in the system prompt.

With a real ``opencode`` binary (``OPENCODE_BIN``, or ``opencode`` on PATH) a second test
runs ``opencode run`` against a scripted OpenAI-compatible model server, so the plugin is
loaded and driven by OpenCode itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import memory_cli.hooks
import pytest
from memory_core import MemoryConfig, SelfLearningMemory

PLUGIN = Path(memory_cli.hooks.__file__).with_name("opencode") / "memory.js"
SCRIPT = Path(sys.executable).with_name("memory")
NODE = shutil.which("node")
OPENCODE = os.environ.get("OPENCODE_BIN") or shutil.which("opencode")

# Feeds the plugin a list of steps: {"event": …} (the `event` hook), {"chat": [session,
# text]} (`chat.message`), {"system": session} (`experimental.chat.system.transform`,
# whose result is printed), {"settle": socket} (waits for the queued hook calls, then
# for the recorder listening on socket to be idle); then `dispose`, which waits too.
DRIVER = """
import { pathToFileURL } from "node:url";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
const ping = (path) => new Promise((resolve, reject) => {
  const sock = connect({ path }, () => sock.write('{"op": "ping"}\\n'));
  sock.on("data", () => { sock.destroy(); resolve(); });
  sock.on("error", reject);
});
const [pluginPath, stepsPath, directory] = process.argv.slice(2);
const { MemoryPlugin } = await import(pathToFileURL(pluginPath).href);
const hooks = await MemoryPlugin({ directory });
const printed = [];
for (const step of JSON.parse(readFileSync(stepsPath, "utf8"))) {
  if (step.event) await hooks.event({ event: step.event });
  if (step.chat) {
    const [sessionID, text] = step.chat;
    const parts = [{ id: "p", sessionID, messageID: "m", type: "text", text }];
    await hooks["chat.message"]({ sessionID }, { message: {}, parts });
  }
  if (step.settle) {
    await hooks.dispose();
    await ping(step.settle);
  }
  if (step.system) {
    const output = { system: ["You are OpenCode."] };
    await hooks["experimental.chat.system.transform"]({ sessionID: step.system }, output);
    printed.push(output.system);
  }
}
await hooks.dispose();
process.stdout.write(JSON.stringify(printed));
"""

pytestmark = pytest.mark.skipif(NODE is None, reason="needs Node.js (node on PATH)")


def tool(session: str, call: str, name: str, args: dict[str, Any], **state: Any) -> Any:
    part = {
        "id": f"prt_{call}",
        "sessionID": session,
        "messageID": "msg_1",
        "type": "tool",
        "callID": call,
        "tool": name,
        "state": {"status": "completed", "input": args, "title": name, **state},
    }
    running = {**part, "state": {"status": "running", "input": args}}
    return [
        {"event": {"type": "message.part.updated", "properties": {"part": running}}},
        {"event": {"type": "message.part.updated", "properties": {"part": part}}},
        {"event": {"type": "message.part.updated", "properties": {"part": part}}},  # again
    ]


def drive(steps: list[Any], cwd: Path, tmp: Path) -> list[list[str]]:
    (tmp / "driver.mjs").write_text(DRIVER)
    (tmp / "steps.json").write_text(json.dumps(steps))
    assert NODE is not None
    r = subprocess.run(
        [NODE, str(tmp / "driver.mjs"), str(PLUGIN), str(tmp / "steps.json"), str(cwd)],
        capture_output=True,
        text=True,
        env={**os.environ, "MEMORY_HOOK_COMMAND": str(SCRIPT)},
        timeout=120,
    )
    assert r.returncode == 0 and r.stderr == "", r.stderr
    printed: list[list[str]] = json.loads(r.stdout)
    return printed


def session(sid: str, cwd: Path) -> list[Any]:
    login = str(cwd / "auth" / "login.py")
    test = {"command": "pytest tests/test_login.py -q", "description": "Run the login tests"}
    return [
        {"event": {"type": "session.created", "properties": {"info": {"id": sid}}}},
        {"chat": [sid, "Fix the failing login test in the auth module"]},
        *tool(sid, "c1", "read", {"filePath": login}, output="def login(user): password_ok"),
        *tool(sid, "c2", "bash", test, output="1 failed, 3 passed", metadata={"exit": 1}),
        *tool(
            sid,
            "c3",
            "edit",
            {"filePath": login, "oldString": "password_ok", "newString": "check(user)"},
            output="Edit applied",
            metadata={},
        ),
        *tool(sid, "c4", "bash", test, output="4 passed in 0.2s", metadata={"exit": 0}),
        {"event": {"type": "session.idle", "properties": {"sessionID": sid}}},
    ]


def test_an_opencode_session_is_recorded_and_recalled(
    env: Any, recorder: Any, tmp_path: Path
) -> None:
    cwd = env.root / "shop"
    cwd.mkdir()
    assert drive(session("ses_1", cwd), cwd, tmp_path) == []
    recorder.wait()

    paraphrase = "the auth module's login test fails again, please repair it"
    unrelated = "write a haiku about autumn leaves for the newsletter"
    steps = [
        {"chat": ["ses_2", paraphrase]},
        {"system": "ses_2"},
        {"chat": ["ses_3", unrelated]},
        {"system": "ses_3"},
    ]
    recalled, nothing = drive(steps, cwd, tmp_path)
    assert recalled[0] == "You are OpenCode." and len(recalled) == 2
    assert "Fix the failing login test in the auth module" in recalled[1]
    assert "pytest tests/test_login.py -q" in recalled[1]
    assert nothing == ["You are OpenCode."]

    recorder.stop()
    with SelfLearningMemory.from_config(
        MemoryConfig.load(None, database_url=env.database_url)
    ) as memory:
        (summary,) = memory.list_episodes({"status": "completed"}).items
        episode = memory.get_episode(summary.id)
    assert episode.task_description == "Fix the failing login test in the auth module"
    assert episode.context.tags == ["agent:opencode"]
    assert [(s.tool, s.action, s.ok) for s in episode.steps] == [
        ("Read", "auth/login.py", True),
        ("Bash", "pytest tests/test_login.py -q", False),
        ("Edit", "auth/login.py", True),
        ("Bash", "pytest tests/test_login.py -q", True),
    ]
    assert episode.outcome is not None and episode.outcome.type.value == "success"
    assert "4 passed" in episode.outcome.verdict
    assert "password_ok" not in episode.model_dump_json()  # file contents never stored


def test_a_recall_too_late_for_its_prompt_reaches_the_system_prompt_after_a_tool_call(
    env: Any, recorder: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = env.root / "shop"
    cwd.mkdir()
    assert drive(session("ses_1", cwd), cwd, tmp_path) == []
    recorder.wait()
    monkeypatch.setenv("MEMORY_HOOK_WAIT_MS", "0")  # no prompt call waits: always late
    socket_path = str(recorder.directory / "recorder.sock")
    paraphrase = "the auth module's login test fails again, please repair it"
    read = {"filePath": str(cwd / "auth" / "login.py")}
    steps = [
        {"chat": ["ses_4", paraphrase]},
        {"system": "ses_4"},
        {"settle": socket_path},  # the model thinks; the recorder recalls meanwhile
        *tool("ses_4", "c9", "read", read, output="def login(user): ..."),
        {"settle": socket_path},
        {"system": "ses_4"},
    ]
    before, after = drive(steps, cwd, tmp_path)
    assert before == ["You are OpenCode."]
    assert len(after) == 2 and "Fix the failing login test in the auth module" in after[1]


def test_a_missing_command_never_breaks_opencode(env: Any, tmp_path: Path) -> None:
    (tmp_path / "driver.mjs").write_text(DRIVER)
    (tmp_path / "steps.json").write_text(json.dumps(session("ses_x", tmp_path)))
    assert NODE is not None
    r = subprocess.run(
        [NODE, str(tmp_path / "driver.mjs"), str(PLUGIN), str(tmp_path / "steps.json"), "/w"],
        capture_output=True,
        text=True,
        env={**os.environ, "MEMORY_HOOK_COMMAND": str(tmp_path / "no-such-command")},
        timeout=60,
    )
    assert r.returncode == 0 and r.stdout == "[]"
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("memory plugin: ")


class ScriptedModel(BaseHTTPRequestHandler):
    """OpenAI-compatible chat completions: asked with tools after a user message, it
    calls ``bash`` with ``COMMAND``; otherwise it answers with text. Keeps the system
    prompts it was sent."""

    COMMAND = f"{sys.executable} -m pytest --version"
    systems: ClassVar[list[str]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        messages = body.get("messages", [])
        for m in messages:
            if m.get("role") == "system" and isinstance(m.get("content"), str):
                ScriptedModel.systems.append(m["content"])
        if body.get("tools") and messages and messages[-1]["role"] == "user":
            args = json.dumps({"command": self.COMMAND, "description": "check pytest"})
            call = {"index": 0, "id": "call_1", "type": "function"}
            delta: dict[str, Any] = {
                "role": "assistant",
                "tool_calls": [{**call, "function": {"name": "bash", "arguments": args}}],
            }
            finish = "tool_calls"
        else:
            delta, finish = {"role": "assistant", "content": "done"}, "stop"
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        for choice in (
            {"index": 0, "delta": delta, "finish_reason": None},
            {"index": 0, "delta": {}, "finish_reason": finish},
        ):
            self.wfile.write(b"data: " + json.dumps({**chunk, "choices": [choice]}).encode())
            self.wfile.write(b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture
def model_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedModel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ScriptedModel.systems = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


@pytest.mark.slow
@pytest.mark.skipif(OPENCODE is None, reason="needs the opencode binary (OPENCODE_BIN or PATH)")
def test_real_opencode_runs_the_plugin(
    env: Any, recorder: Any, model_server: str, tmp_path: Path
) -> None:
    project = env.root / "shop"
    (project / ".opencode" / "plugins").mkdir(parents=True)
    shutil.copy(PLUGIN, project / ".opencode" / "plugins" / "memory.js")
    model = {"name": "scripted", "tool_call": True}
    config = {
        "$schema": "https://opencode.ai/config.json",
        "provider": {
            "scripted": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Scripted",
                "options": {"baseURL": model_server, "apiKey": "none"},
                "models": {"m": model},
            }
        },
        "model": "scripted/m",
        "small_model": "scripted/m",
        "share": "disabled",
        "autoupdate": False,
    }
    (project / "opencode.json").write_text(json.dumps(config))
    run_env = {
        **os.environ,
        "MEMORY_HOOK_COMMAND": str(SCRIPT),
        "OPENCODE_DISABLE_MODELS_FETCH": "1",
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "PWD": str(project),  # opencode takes its directory from PWD, not from getcwd()
    }

    def opencode(prompt: str) -> None:
        assert OPENCODE is not None
        r = subprocess.run(
            [OPENCODE, "run", prompt],
            cwd=project,
            capture_output=True,
            text=True,
            env=run_env,
            timeout=300,
        )
        assert r.returncode == 0, r.stdout + r.stderr

    opencode("check which pytest version is installed")
    recorder.wait()
    opencode("which version of pytest is installed here?")
    assert any("check which pytest version is installed" in s for s in ScriptedModel.systems)

    recorder.stop()
    with SelfLearningMemory.from_config(
        MemoryConfig.load(None, database_url=env.database_url)
    ) as memory:
        done = memory.list_episodes({"status": "completed"}).items
        episodes = [memory.get_episode(e.id) for e in done]
    first = next(e for e in episodes if "check which pytest" in e.task_description)
    assert [(s.tool, s.action) for s in first.steps] == [("Bash", ScriptedModel.COMMAND)]
    assert first.outcome is not None and first.outcome.type.value == "success"
