"""Real ``memory-mcp`` subprocesses for tests and benchmarks: one launcher for every suite.

A server gets a clean environment (no user config, no OpenAI/Turso/Redis setting from the
caller's shell), so a test never reads or writes the user's memory. Readiness is read from
the server's own ``memory-mcp: listening on …`` log line, never guessed with a sleep.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MEMORY_MCP = Path(sys.executable).parent / "memory-mcp"
"""The console script of the environment running the tests."""

STARTUP_TIMEOUT = 120.0
STOP_TIMEOUT = 60.0
LISTENING = "memory-mcp: listening on "

_STRIPPED_PREFIXES = ("MEMORY_", "MCP_", "OPENAI_", "TURSO_")
_STRIPPED_NAMES = ("DATABASE_URL", "REDIS_URL", "PYTHONDONTWRITEBYTECODE")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any memory, MCP, OpenAI, Turso or Redis setting.

    ``PYTHONDONTWRITEBYTECODE`` is dropped too: with it, every server start would compile
    the MCP SDK from source (seconds), which is not what a user's installed tool does.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_STRIPPED_PREFIXES) and k not in _STRIPPED_NAMES
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """A server on ``data_dir/memory.db`` (its LMDB cache beside it), logging at INFO."""
    settings = {
        "DATABASE_URL": f"file:{data_dir / 'memory.db'}",
        "XDG_CONFIG_HOME": str(data_dir / "xdg"),
        "MEMORY_LOG_LEVEL": "INFO",
    }
    return clean_env(**{**settings, **extra})


class StderrLog(list[str]):
    """A process's stderr lines, appended by a reader thread; ``wait_for`` blocks on new
    lines (a condition variable: no polling, no sleeps)."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()
        self.closed = False

    def add(self, line: str | None) -> None:
        """Append a line; ``None`` marks the end of the stream."""
        with self.changed:
            if line is None:
                self.closed = True
            else:
                self.append(line)
            self.changed.notify_all()

    def wait_for(self, marker: str, timeout: float = STARTUP_TIMEOUT) -> str | None:
        """The first line containing ``marker``; None if the stream ends or time runs out."""
        found: list[str] = []

        def seen() -> bool:
            found[:] = [line for line in self if marker in line][:1]
            return bool(found) or self.closed

        with self.changed:
            self.changed.wait_for(seen, timeout)
        return found[0] if found else None


def drain_stderr(proc: subprocess.Popen[str]) -> StderrLog:
    """Collect ``proc``'s stderr in a daemon thread (a full pipe would block the server)."""
    log = StderrLog()

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            log.add(line)
        log.add(None)

    threading.Thread(target=drain, daemon=True).start()
    return log


REPLY_TIMEOUT = 60.0
"""How long ``StdioLines.reply`` waits: generous, as the first answer after a start waits
for the SDK import on a busy machine."""


class StdioLines:
    """A ``memory-mcp`` on stdio spoken to in raw JSON-RPC lines (no client library):
    ``write`` puts lines on its stdin, ``reply`` is the next line it writes (a message the
    server drops fails after ``REPLY_TIMEOUT``, never hangs), ``close`` ends stdin and
    checks a clean exit. Both pipes are drained by threads, so a full one never blocks it."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.proc = subprocess.Popen(
            [str(MEMORY_MCP)],
            env=server_env(data_dir, **env),
            cwd=str(data_dir),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.log: StderrLog = drain_stderr(self.proc)
        self._replies: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._drain_stdout, daemon=True).start()

    def _drain_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._replies.put(line)
        self._replies.put("")  # the end of stdout

    def write(self, *lines: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("".join(line + "\n" for line in lines))
        self.proc.stdin.flush()

    def reply(self) -> dict[str, Any]:
        try:
            line = self._replies.get(timeout=REPLY_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"no answer within {REPLY_TIMEOUT} s") from None
        assert line, "server closed stdout:\n" + "".join(self.log)
        message: dict[str, Any] = json.loads(line)
        return message

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert self.proc.wait(timeout=STOP_TIMEOUT) == 0, "".join(self.log)


def await_line(
    proc: subprocess.Popen[str],
    marker: str,
    what: str,
    timeout: float = STARTUP_TIMEOUT,
) -> tuple[str, StderrLog]:
    """Drain stderr; return the first line containing ``marker`` (or raise with the log)."""
    log = drain_stderr(proc)
    line = log.wait_for(marker, timeout)
    if line is None:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"{what} did not start:\n" + "".join(log))
        proc.wait()
        raise RuntimeError(f"{what} exited with {proc.returncode}:\n" + "".join(log))
    return line, log


@dataclass
class ServerProcess:
    """A running ``memory-mcp --transport http`` process."""

    proc: subprocess.Popen[str]
    url: str
    lines: StderrLog = field(default_factory=StderrLog)
    data_dir: Path | None = None

    @property
    def base(self) -> str:
        """The server's origin (``url`` without the ``/mcp`` path)."""
        return self.url.rsplit("/mcp", 1)[0]

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Signal, wait for the clean shutdown (it closes storage), kill if stuck."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait()
        return self.proc.returncode

    def kill9(self) -> None:
        """SIGKILL: the crash a durability test needs (no shutdown hooks run)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def rss_kib(self) -> int:
        """Resident memory of the server process, from ``/proc`` (Linux)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS line in /proc status")


def start_http_servers(
    envs: Sequence[dict[str, str]],
    *args: str,
    host: str = "127.0.0.1",
    command: Sequence[str] | None = None,
    cwd: Path | None = None,
    timeout: float = STARTUP_TIMEOUT,
) -> list[ServerProcess]:
    """Start one server per environment at once; return when every one listens.

    ``command`` defaults to ``memory-mcp --transport http --host HOST --port 0`` (a free
    port, read back from the log line).
    """
    argv = list(command or [str(MEMORY_MCP), "--transport", "http", "--host", host, "--port", "0"])
    procs = [
        subprocess.Popen(
            [*argv, *args],
            env=env,
            cwd=str(cwd) if cwd else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for env in envs
    ]
    servers: list[ServerProcess] = []
    try:
        for proc in procs:
            line, log = await_line(proc, LISTENING, "memory-mcp", timeout)
            url = line.rsplit(" ", 1)[-1].strip()
            url = url.replace("://0.0.0.0:", "://127.0.0.1:")
            servers.append(ServerProcess(proc=proc, url=url, lines=log, data_dir=cwd))
    except BaseException:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        raise
    return servers


def start_http_server(
    env: dict[str, str],
    *args: str,
    host: str = "127.0.0.1",
    command: Sequence[str] | None = None,
    cwd: Path | None = None,
    timeout: float = STARTUP_TIMEOUT,
) -> ServerProcess:
    """Start one server (see ``start_http_servers``)."""
    return start_http_servers([env], *args, host=host, command=command, cwd=cwd, timeout=timeout)[0]


def wire_tools_list(data_dir: Path, *args: str, timeout: float = 60) -> dict[str, Any]:
    """The ``tools/list`` result exactly as a stdio ``memory-mcp *args`` sends it (raw
    JSON-RPC, no SDK client): what a client's context pays for."""
    requests = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "tools-list", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
    with subprocess.Popen(
        [str(MEMORY_MCP), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=server_env(data_dir, MEMORY_LOG_LEVEL="WARNING"),
        cwd=data_dir,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"".join(json.dumps(r).encode() + b"\n" for r in requests))
        proc.stdin.flush()
        while line := proc.stdout.readline():
            reply: dict[str, Any] = json.loads(line)
            if reply.get("id") == 2:
                proc.stdin.close()
                proc.wait(timeout=timeout)
                result: dict[str, Any] = reply["result"]
                return result
    raise AssertionError(f"memory-mcp {' '.join(args)} answered no tools/list")
