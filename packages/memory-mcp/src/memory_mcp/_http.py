"""Streamable HTTP at ``/mcp``, plus ``/health`` (load balancers) and ``/metrics``
(Prometheus), served by uvicorn.

Bound to a loopback address, the SDK's DNS-rebinding check allows only loopback Host
headers. Bound to anything else (``0.0.0.0`` in a container), the check stays on and the
allowed hosts are the bind address, loopback, this machine's name and whatever
``--allowed-host`` / ``MCP_ALLOWED_HOSTS`` add; it is never switched off.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import sys

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from memory_core import MetricsSnapshot
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from memory_mcp._admission import CALLER_KEY, HttpGuard
from memory_mcp._auth import TokenAuth
from memory_mcp._httpsec import HttpSecurity
from memory_mcp._metrics import render_prometheus
from memory_mcp._ratelimit import RateLimiter
from memory_mcp._runtime import Runtime
from memory_mcp._tenancy import Caller, tenant_metrics

logger = logging.getLogger("memory_mcp")

MCP_PATH = "/mcp"
METRICS_TIMEOUT_SECONDS = 2.0
"""/metrics must answer even while storage is still opening; core numbers are then omitted."""

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def transport_security(host: str, extra_hosts: list[str]) -> TransportSecuritySettings | None:
    """None lets the SDK apply its loopback defaults; otherwise an explicit allow-list."""
    if host in _LOOPBACK and not extra_hosts:
        return None
    names = ["127.0.0.1", "localhost", "[::1]", socket.gethostname()]
    if host not in ("0.0.0.0", "::", ""):
        names.append(f"[{host}]" if ":" in host else host)
    names.extend(extra_hosts)
    hosts: list[str] = []
    origins: list[str] = []
    for name in dict.fromkeys(names):
        if ":" in name and not name.startswith("["):
            hosts.append(name)  # already host:port
            origins.extend([f"http://{name}", f"https://{name}"])
            continue
        hosts.extend([name, f"{name}:*"])
        origins.extend(
            [f"http://{name}:*", f"https://{name}:*", f"http://{name}", f"https://{name}"]
        )
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def allowed_hosts_from_env() -> list[str]:
    raw = os.environ.get("MCP_ALLOWED_HOSTS", "")
    return [h.strip() for h in raw.split(",") if h.strip()]


def build_http_app(
    server: MCPServer,
    rt: Runtime,
    *,
    host: str,
    stateless: bool = False,
    allowed_hosts: list[str] | None = None,
    security: HttpSecurity | None = None,
) -> Starlette:
    """The ASGI app: MCP at /mcp, GET /health, GET /metrics; with ``security``, /mcp and
    /metrics are behind ``HttpGuard`` (bearer token, rate limit, body size, timeout)."""

    async def health(request: Request) -> Response:
        rt.warmup.start()  # a probe means the instance is in service
        status = rt.warmup.status()
        ok = status.state != "failed"
        body = {
            "status": "ok" if ok else "unavailable",
            "version": rt.version,
            "uptime_seconds": round(rt.metrics.uptime_seconds, 3),
            "warmup": status.model_dump(),
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    async def metrics(request: Request) -> Response:
        caller = request.scope.get(CALLER_KEY)
        # security: behind authentication, a token sees its own tenant only
        tenant = caller.tenant if isinstance(caller, Caller) else None
        core: MetricsSnapshot | None
        try:
            core = await asyncio.wait_for(rt.memory.metrics(tenant=tenant), METRICS_TIMEOUT_SECONDS)
        except Exception as exc:  # storage still opening or failing: serve server metrics
            logger.warning("core metrics unavailable: %s", exc or type(exc).__name__)
            core = None
        server_metrics = rt.metrics
        if tenant is not None:
            core = tenant_metrics(core) if core is not None else None
            server_metrics = server_metrics.for_tenant(tenant)
        return PlainTextResponse(
            render_prometheus(server_metrics, core, rt.version),
            media_type="text/plain; version=0.0.4; charset=utf-8",
        )

    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=stateless,
        transport_security=transport_security(host, allowed_hosts or []),
        host=host,
        max_request_body_size=(security or HttpSecurity(auth=False)).max_body_bytes,
    )
    # Outside /mcp: no MCP session, no DNS-rebinding check (probes use the pod IP).
    app.add_route("/health", health, methods=["GET"], name="health")
    app.add_route("/metrics", metrics, methods=["GET"], name="metrics")
    if security is not None:
        app.add_middleware(
            HttpGuard,
            auth=TokenAuth(rt.memory.sync, cache_seconds=security.token_cache_seconds)
            if security.auth
            else None,
            limiter=RateLimiter(security.rate_limit, security.rate_burst),
            max_body_bytes=security.max_body_bytes,
            body_timeout=security.request_timeout,
        )
    return app


async def serve_http(
    app: Starlette,
    *,
    host: str,
    port: int,
    log_level: str,
    tls: tuple[str, str] | None = None,
    stop: asyncio.Event | None = None,
    drain_seconds: float | None = None,
) -> None:
    """Run uvicorn; log the bound address (useful with port 0) once it listens.
    ``tls``: (certificate chain, private key) PEM files to serve HTTPS."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
        log_config=None,  # our stderr handler, never uvicorn's stdout access log
        log_level=log_level.lower(),
        access_log=log_level.upper() == "DEBUG",
        lifespan="on",
        # deploy: graceful stop (memory_mcp._shutdown): in-flight requests finish, bounded
        timeout_graceful_shutdown=None if drain_seconds is None else math.ceil(drain_seconds),
    )
    server = uvicorn.Server(config)

    async def watch_stop() -> None:
        if stop is not None:
            await stop.wait()
            server.should_exit = True

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.02)
        for srv in server.servers:
            for sock in srv.sockets:
                addr = sock.getsockname()
                shown = f"[{addr[0]}]" if ":" in addr[0] else addr[0]
                scheme = "https" if tls else "http"
                print(
                    f"memory-mcp: listening on {scheme}://{shown}:{addr[1]}{MCP_PATH}",
                    file=sys.stderr,
                    flush=True,
                )

    announcer = asyncio.create_task(announce())
    watcher = asyncio.create_task(watch_stop())
    try:
        await server.serve()
    finally:
        announcer.cancel()
        watcher.cancel()
