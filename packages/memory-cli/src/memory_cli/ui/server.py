"""``serve``: run the dashboard with uvicorn until interrupted.

Refuses to start (``NoTokensError``) when the address needs tokens and the database has
none. The first line on stderr names the URL actually bound (useful with ``--port 0``).
"""

from __future__ import annotations

import socket
import sys
import webbrowser

import uvicorn
from memory_core import SelfLearningMemory

from memory_cli.ui.app import create_app
from memory_cli.ui.auth import AuthMode, Gate, tokens_required


class _Server(uvicorn.Server):
    """Announces the bound URL (and opens the browser) once the socket listens."""

    def __init__(
        self, config: uvicorn.Config, *, open_browser: bool, note: str, scheme: str
    ) -> None:
        super().__init__(config)
        self.open_browser = open_browser
        self.note = note
        self.scheme = scheme

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        bound = self.servers[0].sockets[0].getsockname()
        host = bound[0] if ":" not in bound[0] else f"[{bound[0]}]"
        url = f"{self.scheme}://{host}:{bound[1]}/"
        print(f"memory ui: serving {url} ({self.note})", file=sys.stderr, flush=True)
        if self.open_browser:
            webbrowser.open(url)


def serve(
    memory: SelfLearningMemory,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    auth: AuthMode = "auto",
    open_browser: bool = False,
    tls: tuple[str, str] | None = None,
) -> None:
    """Serve until interrupted. ``tls`` is (certificate chain, private key), PEM files:
    off loopback it keeps the tokens and the session cookie (then ``Secure``) off the wire."""
    gate = Gate(memory, require_tokens=tokens_required(host, auth))
    gate.check_startable()
    memory.warm()  # load search indexes now, not on the first search
    app = create_app(memory, gate, host=host)
    note = f"tenant {memory.config.tenant}; " + (
        "bearer tokens required" if gate.require_tokens else "loopback, no login"
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
    )
    scheme = "https" if tls else "http"
    _Server(config, open_browser=open_browser, note=note, scheme=scheme).run()
