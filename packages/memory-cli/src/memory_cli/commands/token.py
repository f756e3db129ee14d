"""``memory token``: bearer tokens for the MCP server over HTTP (create, list, revoke, rotate).

A token is bound to one tenant (the global ``--tenant``, else the configured tenant) and
one scope: ``read`` (read-only tools), ``write`` (also record episodes) or ``admin`` (also
delete). Only its SHA-256 is stored; the token is printed once, at creation or rotation.
Servers sharing the database accept a new token and refuse a revoked one without a
restart (within their ``--token-cache-seconds``, 5 s by default).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, cast

import typer
from memory_core.security import IssuedToken, Scope, TokenInfo, TokenStore
from rich.table import Table

from memory_cli._examples import examples
from memory_cli._output import emit, fmt_time, to_data
from memory_cli._principal import audit
from memory_cli._state import CliState, get_state

app = typer.Typer(
    help="Bearer tokens for memory-mcp over HTTP: create, list, revoke, rotate.",
    epilog=examples(
        "memory --tenant team-a token create --scope write --name ci",
        "memory token list --all-tenants",
        "memory token rotate 3f2a9c1b0d4e",
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

TokenId = Annotated[str, typer.Argument(help="Token id (12 hex characters).", show_default=False)]
ExpiresOpt = Annotated[
    float | None,
    typer.Option("--expires-days", min=0.0001, help="Expire after this many days (default never)."),
]


def _store(state: CliState) -> TokenStore:
    return TokenStore(state.memory.storage, cache_seconds=0.0)


def _issued(state: CliState, issued: IssuedToken, what: str) -> None:
    data = {"token": issued.token, **to_data(issued.info)}

    def table() -> list[Any]:
        return [
            f"{what} token {issued.id} for tenant {issued.info.tenant} "
            f"(scope {issued.info.scope}); it is shown only now:",
            issued.token,
        ]

    emit(state.format, data, table)


@app.command(
    epilog=examples(
        "memory --tenant team-a token create --scope write --name ci",
        "memory --tenant team-a token create --scope read --expires-days 30",
        "memory -f json --tenant team-a token create --scope admin",
    )
)
def create(
    ctx: typer.Context,
    scope: Annotated[
        str, typer.Option("--scope", help="read, write (record episodes) or admin (also delete).")
    ] = "write",
    name: Annotated[str, typer.Option("--name", help="A label, e.g. the agent or CI job.")] = "",
    expires_days: ExpiresOpt = None,
) -> None:
    """Create a token for the tenant (global --tenant) and print it once."""
    state = get_state(ctx)
    tenant = state.config.tenant
    expires = timedelta(days=expires_days) if expires_days is not None else None
    issued = _store(state).create(tenant, cast(Scope, scope), name=name, expires_in=expires)
    audit(state.memory, "token_create", tenant, [issued.id])
    _issued(state, issued, "created")


def _table(rows: list[TokenInfo]) -> Table:
    table = Table(box=None, pad_edge=False)
    for col in ("id", "tenant", "scope", "name", "created", "expires", "state"):
        table.add_column(col)
    for t in rows:
        state = "revoked" if t.revoked_at else "active" if t.active else "expired"
        table.add_row(
            t.id, t.tenant, t.scope, t.name or "-", fmt_time(t.created_at),
            fmt_time(t.expires_at), state,
        )  # fmt: skip
    return table


@app.command(
    "list",
    epilog=examples("memory token list", "memory -f json token list --all-tenants --revoked"),
)
def list_(
    ctx: typer.Context,
    all_tenants: Annotated[
        bool, typer.Option("--all-tenants", help="Tokens of every tenant, not only the current.")
    ] = False,
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked tokens.")] = False,
) -> None:
    """List tokens (never the secrets): id, tenant, scope, name, dates, state."""
    state = get_state(ctx)
    tenant = None if all_tenants else state.config.tenant
    rows = _store(state).list(tenant=tenant, include_revoked=revoked)
    emit(state.format, rows, lambda: _table(rows) if rows else "(no tokens)")


@app.command(epilog=examples("memory token revoke 3f2a9c1b0d4e"))
def revoke(ctx: typer.Context, token_id: TokenId) -> None:
    """Revoke a token: servers refuse it from their next check on."""
    state = get_state(ctx)
    info = _store(state).revoke(token_id)
    audit(state.memory, "token_revoke", info.tenant, [info.id])
    emit(state.format, info, lambda: f"revoked token {info.id} of tenant {info.tenant}")


@app.command(
    epilog=examples("memory token rotate 3f2a9c1b0d4e", "memory -f json token rotate 3f2a9c1b0d4e")
)
def rotate(ctx: typer.Context, token_id: TokenId, expires_days: ExpiresOpt = None) -> None:
    """Replace a token: a new one (same tenant, scope, name) is printed once, the old one
    is revoked. Running servers switch without a restart."""
    state = get_state(ctx)
    expires = timedelta(days=expires_days) if expires_days is not None else None
    issued = _store(state).rotate(token_id, expires_in=expires)
    audit(state.memory, "token_rotate", issued.info.tenant, [token_id, issued.id])
    _issued(state, issued, "rotated: new")
