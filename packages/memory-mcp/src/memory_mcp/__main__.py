"""``memory-mcp``: serve the memory over stdio (default) or streamable HTTP.

Exit codes: 0 on a clean stop, 2 for bad arguments or configuration (one line on
stderr, naming the setting; an unknown backend lists what is installed).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from memory_mcp._version import __version__

if TYPE_CHECKING:
    from memory_core import MemoryConfig

EXIT_CONFIG = 2
logger = logging.getLogger("memory_mcp")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="memory-mcp",
        description="Serve persistent, self-learning memory to AI agents over MCP.",
        epilog=(
            "Configuration also comes from the environment (DATABASE_URL, MCP_HOST, MCP_PORT, "
            "OPENAI_API_KEY, EMBEDDING_MODEL, MEMORY_<SETTING>) and memory-cli.toml. "
            "Logs go to stderr; on stdio, stdout carries only the protocol."
        ),
    )
    p.add_argument("--version", action="version", version=f"memory-mcp {__version__}")
    p.add_argument(
        "--transport",
        choices=["stdio", "http", "streamable-http"],
        default="stdio",
        help="stdio (default) or http: streamable HTTP at /mcp, with /health and /metrics",
    )
    p.add_argument("--host", help="HTTP bind address (default: MCP_HOST or localhost)")
    p.add_argument(
        "--port", type=int, help="HTTP port, 0 for any free one (default: MCP_PORT or 3000)"
    )
    p.add_argument(
        "--config", metavar="PATH", help="TOML config file (default: ./memory-cli.toml if present)"
    )
    p.add_argument(
        "--database-url", metavar="URL", help="overrides DATABASE_URL (default file:./memory.db)"
    )
    p.add_argument(
        "--stateless",
        action="store_true",
        help="HTTP without sessions, so any instance behind a load balancer can answer any request",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="HOST",
        help="extra Host header accepted over HTTP (repeatable; also MCP_ALLOWED_HOSTS, comma-separated)",
    )
    p.add_argument("--log-level", help="DEBUG, INFO (default), WARNING or ERROR")
    p.add_argument(
        "--tools",
        choices=["core", "full"],
        help="tool profile: core (default; episodes, hand-off, playbook) or full (also tags, "
        "relationships, feedback); also MEMORY_MCP_TOOL_PROFILE",
    )
    from memory_mcp._httpsec import add_arguments  # stdlib only: --help stays fast

    add_arguments(p)
    return p


def load_config(args: argparse.Namespace) -> MemoryConfig:
    # Imported here so that --help and --version answer without loading memory-core.
    from memory_core import MemoryConfig

    overrides: dict[str, object] = {}
    if args.host is not None:
        overrides["mcp_host"] = args.host
    if args.port is not None:
        overrides["mcp_port"] = args.port
    if args.database_url is not None:
        overrides["database_url"] = args.database_url
    if args.log_level is not None:
        overrides["log_level"] = args.log_level
    if args.tools is not None:
        overrides["mcp_tool_profile"] = args.tools
    config = MemoryConfig.load(args.config, **overrides)
    preflight(config)
    return config


def preflight(config: MemoryConfig) -> None:
    """Check plugin names now, so a typo fails at start with the list of what is installed
    instead of on the first tool call. Reads entry-point metadata only; nothing is opened."""
    from memory_core.errors import BackendNotFoundError
    from memory_core.plugins import CACHE_GROUP, EMBEDDINGS_GROUP, STORAGE_GROUP
    from memory_core.plugins import installed_plugins as installed

    checks = [(CACHE_GROUP, config.cache_backend)]
    if config.storage_backend:
        checks.append((STORAGE_GROUP, config.storage_backend))
    if config.embedding_provider not in ("auto",):
        checks.append((EMBEDDINGS_GROUP, config.embedding_provider))
    for group, name in checks:
        names = installed(group)
        if name not in names:
            raise BackendNotFoundError(group, name, names)


def configure_logging(level: str, fmt: str = "console") -> None:
    """Every log line on stderr (stdout is the protocol on stdio), as ``MEMORY_LOG_FORMAT``
    says: ``json`` (one object per line, for log collectors) or ``console``."""
    from memory_core import configure_logging as configure_core_logging

    known = level.upper() in logging.getLevelNamesMapping()
    logging.getLogger().handlers.clear()  # ours only: no SDK or library default handler
    configure_core_logging(level if known else "INFO", fmt, stream=sys.stderr)


def skip_sdk_logging_setup() -> None:
    """The CLI has configured stderr logging already; ``MCPServer()`` would otherwise set
    up its own, importing ``rich`` on the way (about 0.3 s of a cold start)."""
    import mcp.server.mcpserver.server as sdk_server

    sdk_server.configure_logging = lambda *args, **kwargs: None  # type: ignore[attr-defined]


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    front = None
    if args.transport == "stdio":
        # Answers `initialize` from a thread while the SDK and memory-core import below.
        from memory_mcp._fast_stdio import StdioFront

        front = StdioFront.start()
    import asyncio  # here, not at the top: it costs the front ~60 ms of a cold start

    from memory_core import ConfigurationError

    try:
        config = load_config(args)
    except ConfigurationError as exc:
        print(f"memory-mcp: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(config.log_level, config.log_format)
    skip_sdk_logging_setup()

    from memory_mcp._httpsec import resolve as resolve_security
    from memory_mcp._server import build_server

    transport = "http" if args.transport in ("http", "streamable-http") else "stdio"
    try:
        security = resolve_security(args, config.mcp_host) if transport == "http" else None
        server, rt = build_server(
            config,
            transport=transport,
            authenticated=security is not None and security.auth,
            tool_timeout=security.request_timeout if security is not None else None,
        )
    except ConfigurationError as exc:
        print(f"memory-mcp: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    # security: retention policies applied in the background when retention_interval_seconds
    # is set (None otherwise; nothing is opened here).
    from memory_core.security import start_retention_job

    from memory_mcp._shutdown import DRAIN_SECONDS, Shutdown, close_memory, exit_unclean

    retention = start_retention_job(rt.memory.sync)

    async def run() -> bool:
        task = asyncio.current_task()
        assert task is not None
        shutdown = Shutdown()
        # HTTP: uvicorn drains in-flight calls (serve_http watches the request); stdio:
        # cancel the read loop.
        shutdown.install(task.cancel if transport == "stdio" else (lambda: None))
        try:
            if front is not None:
                await front.serve(server, rt.lane)
            else:
                from memory_mcp._http import allowed_hosts_from_env, build_http_app, serve_http

                app = build_http_app(
                    server,
                    rt,
                    host=config.mcp_host,
                    stateless=args.stateless,
                    allowed_hosts=[*args.allowed_host, *allowed_hosts_from_env()],
                    security=security,
                )
                await serve_http(
                    app,
                    host=config.mcp_host,
                    port=config.mcp_port,
                    log_level=config.log_level,
                    tls=security.tls if security is not None else None,
                    stop=shutdown.requested,
                    drain_seconds=DRAIN_SECONDS,
                )
        except asyncio.CancelledError:
            logger.info("stopping")
        if retention is not None:
            retention.stop(timeout=10)
        # Flush extractions and close storage and cache on the worker thread, bounded.
        return await close_memory(rt)

    if not asyncio.run(run()):
        exit_unclean()
    return 0


if __name__ == "__main__":
    sys.exit(main())
