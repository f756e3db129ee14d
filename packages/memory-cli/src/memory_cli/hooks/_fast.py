"""``memory hook <agent>``: the hook command itself, dispatched before Typer is imported.

Contract with the agent: read one JSON event on stdin, exit 0 whatever happens, write
nothing to stdout but hook JSON, and at most one line to stderr. The event is spooled
durably first (so nothing acknowledged is lost), then handed to the recorder; for a
prompt the reply (relevant past work) is awaited for at most ``MEMORY_HOOK_WAIT_MS``.
When no recorder runs, one is started in the background and the call returns at once
without context: the agent is never made to wait for a cold start.
"""

from __future__ import annotations

import _socket  # the C module: socket.py's imports would cost the hook ~4 ms
import json
import os
import sys
import time

from memory_cli.hooks import _spool
from memory_cli.hooks._events import CONTEXT_KINDS, HookInputError, to_record

TYPE_CHECKING = False  # typing is not imported at run time: this is the hook's fast path
if TYPE_CHECKING:
    from typing import Any

AGENTS = ("claude-code", "opencode")
MAX_INPUT_BYTES = 32 * 1024 * 1024
DEFAULT_WAIT_MS = 1_000
SOCKET = "recorder.sock"
LOCK = "recorder.lock"
POLL_SECONDS = 0.02


def wait_seconds() -> float:
    """``MEMORY_HOOK_WAIT_MS``: how long a prompt waits for its context."""
    raw = os.environ.get("MEMORY_HOOK_WAIT_MS", "")
    try:
        return max(0.0, float(raw) / 1000) if raw else DEFAULT_WAIT_MS / 1000
    except ValueError:
        return DEFAULT_WAIT_MS / 1000


def _spawn(directory: str) -> None:
    """Start the recorder detached from the agent (own session, no inherited pipes)."""
    import subprocess

    log = open(os.path.join(directory, "recorder.log"), "ab")  # noqa: SIM115 - handed to the child
    try:
        subprocess.Popen(
            [sys.executable, "-m", "memory_cli.hooks", "serve", str(directory)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            cwd=directory,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        log.close()


def _recorder_alive(directory: str) -> bool:
    """Whether a recorder holds the directory's lock (running, or still starting)."""
    import fcntl

    try:
        fd = os.open(os.path.join(directory, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _connect(directory: str, timeout: float) -> _socket.socket | None:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(max(timeout, 0.001))
    try:
        sock.connect(os.path.join(directory, SOCKET))
    except OSError:
        sock.close()
        return None
    return sock


def notify(directory: str, record: dict[str, Any]) -> dict[str, Any] | None:
    """Tell the recorder about a spooled record; the reply for a context request."""
    wants = record["kind"] in CONTEXT_KINDS
    budget = wait_seconds() if wants else 0.2
    deadline = time.monotonic() + budget
    sock = _connect(directory, budget)
    if sock is None:
        if not _recorder_alive(directory):
            _spawn(directory)
        # A prompt may wait for a recorder that is starting, within its budget.
        while sock is None and wants and time.monotonic() + POLL_SECONDS < deadline:
            time.sleep(POLL_SECONDS)
            sock = _connect(directory, deadline - time.monotonic())
        if sock is None:
            return None
    try:
        op = {"op": "context", "id": record["id"]} if wants else {"op": "ingest"}
        sock.sendall(json.dumps(op).encode() + b"\n")
        if not wants:
            return None
        data = b""
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            sock.settimeout(left)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    reply = json.loads(data.split(b"\n", 1)[0] or b"{}")
    return reply if isinstance(reply, dict) else None


def hook_output(event: str, context: str) -> str:
    """The hook JSON that adds ``context`` to the agent's conversation."""
    return json.dumps(
        {"hookSpecificOutput": {"hookEventName": event, "additionalContext": context}},
        ensure_ascii=False,
    )


def run(argv: list[str]) -> int:
    """Handle one hook event; always returns 0."""
    try:
        if len(argv) != 1 or argv[0] not in AGENTS:
            raise HookInputError(f"usage: memory hook {{{','.join(AGENTS)}}} < event.json")
        raw = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        if len(raw) > MAX_INPUT_BYTES:
            raise HookInputError(f"hook input is over {MAX_INPUT_BYTES} bytes")
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            raise HookInputError(f"hook input is not JSON: {exc}") from None
        record = to_record(payload, argv[0])
        if record is None:
            return 0
        directory = _spool.hook_dir()
        _spool.append(directory, record)
        reply = notify(directory, record)
        context = reply.get("context") if reply else None
        if isinstance(context, str) and context:
            sys.stdout.write(hook_output(str(record["event"]), context) + "\n")
            sys.stdout.flush()
    except HookInputError as exc:
        print(f"memory hook: {exc}", file=sys.stderr)
    except Exception as exc:  # never break the agent: one line, exit 0
        print(f"memory hook: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 0
