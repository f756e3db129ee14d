"""``memory ui``: serve the web dashboard (see ``memory_cli.ui``)."""

from __future__ import annotations

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
    "memory ui --host 0.0.0.0",
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
) -> None:
    """Serve a web dashboard: episodes, search, patterns, learning curves, health."""
    from memory_cli.ui import NoTokensError, serve  # starlette/uvicorn only when used

    if auth not in ("auto", "token"):
        raise CliError(f"--auth: expected auto or token; got {auth!r}", exit_code=EXIT_USAGE)
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
        )
    except NoTokensError as exc:
        raise CliError(f"refusing to start on {host}: {exc}", exit_code=EXIT_USAGE) from None
