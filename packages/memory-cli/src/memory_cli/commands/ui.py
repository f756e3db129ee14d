"""``memory ui``: serve the web dashboard (see ``memory_cli.ui``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from memory_cli._errors import EXIT_USAGE, CliError
from memory_cli._examples import examples
from memory_cli._state import get_state

EPILOG = examples(
    "memory ui",
    "memory ui --port 9000 --open",
    "memory ui --database-url file:./team.db",
    "memory --tenant team-a token create --scope read",
    "memory ui --host 0.0.0.0 --tls-cert cert.pem --tls-key key.pem",
)


def ui(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="Address to bind; anything but loopback requires tokens.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free port).")] = 8765,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Database URL (overrides config).")
    ] = None,
    auth: Annotated[
        str,
        typer.Option(
            help="auto: bearer tokens off loopback, none on loopback; token: always.",
        ),
    ] = "auto",
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the dashboard in a browser.")
    ] = False,
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            "--tls-cert", help="Serve HTTPS with this PEM certificate chain.", dir_okay=False
        ),
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option("--tls-key", help="Private key (PEM) of --tls-cert.", dir_okay=False),
    ] = None,
) -> None:
    """Serve a web dashboard: episodes, search, patterns, learning curves, health."""
    from memory_cli.ui import NoTokensError, serve  # starlette/uvicorn only when used

    if auth not in ("auto", "token"):
        raise CliError(f"--auth: expected auto or token; got {auth!r}", exit_code=EXIT_USAGE)
    if (tls_cert is None) != (tls_key is None):
        missing = "--tls-key" if tls_cert is not None else "--tls-cert"
        raise CliError(f"{missing}: TLS needs both --tls-cert and --tls-key", exit_code=EXIT_USAGE)
    for flag, path in (("--tls-cert", tls_cert), ("--tls-key", tls_key)):
        if path is not None and not path.is_file():
            raise CliError(f"{flag}: not a readable file: {path}", exit_code=EXIT_USAGE)
    state = get_state(ctx)
    if database_url is not None:
        state.overrides["database_url"] = database_url
    try:
        serve(
            state.memory,
            host=host,
            port=port,
            auth="token" if auth == "token" else "auto",
            open_browser=open_browser,
            tls=(str(tls_cert), str(tls_key)) if tls_cert and tls_key else None,
        )
    except NoTokensError as exc:
        raise CliError(f"refusing to start on {host}: {exc}", exit_code=EXIT_USAGE) from None
