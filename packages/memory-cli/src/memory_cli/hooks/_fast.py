"""``memory hook <agent>``: the hook command itself, dispatched before Typer is imported.

Contract with the agent: read one JSON event on stdin, exit 0 whatever happens, write
nothing to stdout but hook JSON, and at most one line to stderr. Every event is spooled
durably (fsync) before the call returns, so nothing acknowledged is lost. A tool call or
the end of a turn is spooled, then the recorder is poked. A prompt (or a session's
start) is sent to the recorder first, inline with its context request, and spooled while
the recorder recalls; the reply (relevant past work: the episodes first, then with the
playbook) is awaited until ``MEMORY_HOOK_WAIT_MS`` (see ``DEFAULT_WAIT_MS``) after the
call started handling the event, so that a call stays within its 50 ms, and the last
answer read by then is shown. What misses that budget is not lost: the recorder leaves
it for the session's next tool call, or after a turn without one its next prompt, which
prints it as its own ``additionalContext`` (``_pending``). When no recorder listens, one
is started in the background and the call returns at once without context: the agent is
never made to wait for a cold start (the recorder recalls for that prompt once it is up,
for the next tool call likewise).

Every call is a new process, so what it imports is most of its cost: the standard
library's C modules and this package's small fast-path modules only (no ``json``, no
``re``, no ``socket``, no ``subprocess``, no ``typing``); ``python -X importtime``
checks it.
"""

from __future__ import annotations

import _socket  # the C module: socket.py's imports would cost the hook ~4 ms
import fcntl
import os
import sys
import time

from memory_cli.hooks import _jsonio, _pending, _spool
from memory_cli.hooks._events import CONTEXT_KINDS, HookInputError, to_record

TYPE_CHECKING = False  # typing is not imported at run time: this is the hook's fast path
if TYPE_CHECKING:
    from typing import Any

AGENTS = ("claude-code", "opencode")
MAX_INPUT_BYTES = 32 * 1024 * 1024
DEFAULT_WAIT_MS = 25
"""50 ms, less what a call that does not wait costs on a quiet two-core machine (p95 ≈ 18
ms with its bytecode cached: the interpreter, these imports, the output), less a margin:
a prompt whose recall is late still returns within 50 ms. The episodes, which is what a
prompt waits for, cost the recorder ≈ 5-13 ms of CPU (the benchmark prints it), so they
fit unless the machine is busy; the playbook follows when it is ready."""
SOCKET = "recorder.sock"
LOCK = "recorder.lock"
LOCK_FD = 3  # where the recorder finds the lock its starter took
TAKE_KINDS = frozenset({"step", "prompt"})  # the calls that show a context left for them


def wait_seconds() -> float:
    """``MEMORY_HOOK_WAIT_MS``: how long a prompt waits for its context."""
    raw = os.environ.get("MEMORY_HOOK_WAIT_MS", "")
    try:
        return max(0.0, float(raw) / 1000) if raw else DEFAULT_WAIT_MS / 1000
    except ValueError:
        return DEFAULT_WAIT_MS / 1000


def _claim(directory: str) -> int | None:
    """The recorder lock, held, when no recorder holds it (running or starting)."""
    fd = os.open(os.path.join(directory, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _spawn(directory: str, lock: int) -> None:
    """Start the recorder detached from the agent: its own session, no inherited pipes
    (the agent reads the hook's stdout to its end), stderr to ``recorder.log``.

    The recorder inherits the held lock as its fd 3, so from this moment on no other
    hook call starts a second one. A double fork, so no caller is left with a zombie,
    and fork + exec rather than ``subprocess``, whose imports would cost ~5 ms.
    """
    log = os.open(os.path.join(directory, "recorder.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    null = os.open(os.devnull, os.O_RDWR)
    try:
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the forked child
            try:
                os.setsid()
                if os.fork() == 0:
                    os.chdir(directory)
                    os.dup2(null, 0)
                    os.dup2(null, 1)
                    os.dup2(log, 2)
                    os.dup2(lock, LOCK_FD)
                    os.set_inheritable(LOCK_FD, True)
                    os.closerange(LOCK_FD + 1, 65536)
                    argv = ["-m", "memory_cli.hooks", "serve", directory, str(LOCK_FD)]
                    os.execv(sys.executable, [sys.executable, *argv])
            except BaseException as exc:
                os.write(log, f"memory hook: cannot start the recorder: {exc}\n".encode())
            finally:
                os._exit(0)
        os.waitpid(child, 0)
    finally:
        os.close(log)
        os.close(null)


def _connect(directory: str, timeout: float) -> _socket.socket | None:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(max(timeout, 0.001))
    try:
        sock.connect(os.path.join(directory, SOCKET))
    except OSError:
        sock.close()
        return None
    return sock


def _start_recorder(directory: str) -> None:
    """No recorder listens: start one unless one is starting (the call then answers
    without context; a start takes about a second, and the recorder ingests the spool
    first and leaves the context of a prompt it missed for the next tool call)."""
    lock = _claim(directory)
    if lock is not None:
        try:
            _spawn(directory, lock)
        finally:
            os.close(lock)  # the recorder holds its own copy


def ask(directory: str, request: dict[str, Any], deadline: float) -> _socket.socket | None:
    """Send ``request`` (a context request carries its record, not yet spooled: the
    recall overlaps the spool's fsync); the socket to read the reply from, or ``None``."""
    sock = _connect(directory, deadline - time.monotonic())
    if sock is None:
        return None
    try:
        sock.sendall(_jsonio.dumps(request).encode() + b"\n")
    except OSError:
        sock.close()
        return None
    return sock


def replies_of(sock: _socket.socket, deadline: float) -> list[dict[str, Any]]:
    """The reply lines the recorder sent before ``deadline``, up to its ``final`` one;
    acknowledged (``ack N``: the recorder keeps what was not read for a later call);
    closes ``sock``."""
    data = b""
    replies: list[dict[str, Any]] = []
    try:
        while not (replies and replies[-1].get("final")):
            if b"\n" in data:
                line, data = data.split(b"\n", 1)
                reply = _jsonio.loads(line or b"{}")
                if isinstance(reply, dict):
                    replies.append(reply)
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
        try:  # noqa: SIM105 - contextlib is an import the fast path does without
            sock.sendall(f"ack {len(replies)}\n".encode())
        except OSError:
            pass
    finally:
        sock.close()
    return replies


def poke(directory: str) -> None:
    """Tell the recorder that a record was spooled (it does not answer)."""
    sock = _connect(directory, 0.2)
    if sock is None:
        _start_recorder(directory)
        return
    try:
        sock.sendall(_jsonio.dumps({"op": "ingest"}).encode() + b"\n")
    finally:
        sock.close()


def exchange(
    directory: str, record: dict[str, Any], started: float, *, held: bool = False
) -> list[dict[str, Any]]:
    """Spool ``record`` durably and hand it to the recorder; the replies read until
    ``started`` (the call's ``time.monotonic()``) plus the budget: for a context kind,
    its context; with ``held``, the context the recorder holds for the session
    (encrypted database: this call took its marker)."""
    deadline = started + wait_seconds()
    if record["kind"] not in CONTEXT_KINDS:
        _spool.append(directory, record)
        if not held:
            poke(directory)
            return []
        sock = ask(directory, {"op": "take", "session": record["session"]}, deadline)
    else:
        request = {"op": "context", "record": record, "previous": held}
        sock = ask(directory, request, deadline)
        try:
            _spool.append(directory, record)
        except BaseException:
            if sock is not None:
                sock.close()
            raise
    if sock is None:
        _start_recorder(directory)
        return []
    return replies_of(sock, deadline)


def choose(replies: list[dict[str, Any]], left: tuple[str, str] | None, prompt: str) -> str:
    """What a call shows: the recorder's freshest answer read in time, if it found
    anything; else the context left for the session (``_pending``: sent back by the
    recorder when it held it, read from its file otherwise), on a prompt only while it
    still applies."""
    for previous in (False, True):
        for reply in reversed(replies):
            context = reply.get("context")
            if bool(reply.get("previous")) == previous and isinstance(context, str) and context:
                return context
    if left is None or left[1] == _pending.MARKER:
        return ""
    if prompt and not _pending.relevant(left[0], prompt):
        return ""
    return left[1]


def hook_output(event: str, context: str) -> str:
    """The hook JSON that adds ``context`` to the agent's conversation."""
    return _jsonio.dumps(
        {"hookSpecificOutput": {"hookEventName": event, "additionalContext": context}}
    )


def run(argv: list[str]) -> int:
    """Handle one hook event; always returns 0."""
    started = time.monotonic()
    try:
        if len(argv) != 1 or argv[0] not in AGENTS:
            raise HookInputError(f"usage: memory hook {{{','.join(AGENTS)}}} < event.json")
        raw = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        if len(raw) > MAX_INPUT_BYTES:
            raise HookInputError(f"hook input is over {MAX_INPUT_BYTES} bytes")
        try:
            payload = _jsonio.loads(raw)
        except ValueError as exc:
            raise HookInputError(f"hook input is not JSON: {exc}") from None
        except RecursionError:
            raise HookInputError("hook input is nested too deeply") from None
        record = to_record(payload, argv[0])
        if record is None:
            return 0
        directory = _spool.hook_dir()
        kind, session = record["kind"], str(record["session"])
        if kind == "end":
            _pending.drop(directory, session)
        left = _pending.take(directory, session) if kind in TAKE_KINDS else None
        held = left is not None and left[1] == _pending.MARKER
        replies = exchange(directory, record, started, held=held)
        context = choose(replies, left, str(record.get("prompt", "")))
        if context:
            sys.stdout.write(hook_output(str(record["event"]), context) + "\n")
            sys.stdout.flush()
    except HookInputError as exc:
        print(f"memory hook: {exc}", file=sys.stderr)
    except Exception as exc:  # never break the agent: one line, exit 0
        print(f"memory hook: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 0
