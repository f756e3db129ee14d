"""Real ``memory-mcp`` subprocesses for the benchmarks: stdio parameters and an HTTP server.

Each server gets a clean environment (no user config, no OpenAI key, the database given),
so a benchmark never reads or writes the user's memory.
"""

from __future__ import annotations

from pathlib import Path

from mcp.client.stdio import StdioServerParameters
from memory_test_utils import MEMORY_MCP, ServerProcess, clean_env, start_http_server

BIN = MEMORY_MCP
PYCACHE = Path(__file__).resolve().parents[1] / ".data" / "pycache"
"""Bytecode cache of the server processes. Installed tools run from compiled bytecode;
with ``PYTHONDONTWRITEBYTECODE`` set (as in some sandboxes) and no ``__pycache__`` in the
environment, every start would compile the MCP SDK from source (seconds), which is not
what a user sees. A private prefix keeps the shared environment untouched."""


def server_env(db: Path, **extra: str) -> dict[str, str]:
    """The environment of a server on ``db`` (its LMDB cache goes beside it)."""
    settings = {
        "PYTHONPYCACHEPREFIX": str(PYCACHE),
        "DATABASE_URL": f"file:{db}",
        "XDG_CONFIG_HOME": str(db.parent / "xdg"),
        "MEMORY_LOG_LEVEL": "WARNING",
        "MEMORY_EMBEDDING_PROVIDER": "local",
    }
    return clean_env(**{**settings, **extra})


def stdio_params(db: Path, **env: str) -> StdioServerParameters:
    """Parameters that launch ``memory-mcp`` on stdio over ``db``."""
    return StdioServerParameters(
        command=str(BIN), args=[], env=server_env(db, **env), cwd=str(db.parent)
    )


HttpServer = ServerProcess


def start_http(db: Path, *args: str, **env: str) -> HttpServer:
    """Start the server on 127.0.0.1 and a free port; return once it listens."""
    return start_http_server(
        server_env(db, **{"MEMORY_LOG_LEVEL": "INFO", **env}), *args, cwd=db.parent
    )
