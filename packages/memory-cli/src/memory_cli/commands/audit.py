"""``memory audit``: read and export the audit log (who did what to which ids, and how
it ended; never payloads or secrets)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from memory_core.security import AuditRecord
from rich.table import Table

from memory_cli._examples import examples
from memory_cli._output import emit, fmt_value
from memory_cli._parsing import parse_when
from memory_cli._state import get_state

app = typer.Typer(
    help="Read and export the audit log: time, principal, operation, target ids, outcome.",
    epilog=examples(
        "memory audit list --since 24h",
        "memory --tenant team-a audit export --output audit.jsonl",
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

OperationOpt = Annotated[
    str | None, typer.Option("--operation", help="Only this operation, e.g. tool:create_episode.")
]
PrincipalOpt = Annotated[
    str | None, typer.Option("--principal", help="Only this principal, e.g. token:3f2a9c1b0d4e.")
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="At or after: ISO time or an age (30m, 24h, 7d).")
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="Before: ISO time or an age (30m, 24h, 7d).")
]


def _filters(
    operation: str | None, principal: str | None, since: str | None, until: str | None
) -> dict[str, Any]:
    return {
        "operation": operation,
        "principal": principal,
        "since": parse_when(since, "--since"),
        "until": parse_when(until, "--until"),
    }


def _table(rows: list[AuditRecord]) -> Table:
    table = Table(box=None, pad_edge=False)
    for col in ("time", "principal", "operation", "outcome", "targets"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r.time.strftime("%Y-%m-%d %H:%M:%S"), r.principal, r.operation, r.outcome,
            fmt_value(r.target_ids),
        )  # fmt: skip
    return table


@app.command(
    "list",
    epilog=examples(
        "memory audit list --since 24h",
        "memory audit list --operation tool:delete_episode -n 20",
        "memory -f json audit list --principal token:3f2a9c1b0d4e",
    ),
)
def list_(
    ctx: typer.Context,
    operation: OperationOpt = None,
    principal: PrincipalOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="At most this many (the newest).")
    ] = 50,
) -> None:
    """Audit records of the tenant (global --tenant), oldest first, the newest N."""
    state = get_state(ctx)
    rows = state.memory.audit_log.query(
        state.config.tenant, limit=None, **_filters(operation, principal, since, until)
    )[-limit:]
    emit(state.format, rows, lambda: _table(rows) if rows else "(no audit records)")


@app.command(
    epilog=examples(
        "memory audit export > audit.jsonl",
        "memory audit export --since 7d --output week.jsonl",
        "memory --tenant team-a audit export --operation erase_episode",
    )
)
def export(
    ctx: typer.Context,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write here instead of stdout.", dir_okay=False),
    ] = None,
    operation: OperationOpt = None,
    principal: PrincipalOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
) -> None:
    """Every matching record as JSON Lines (one object per line), oldest first."""
    state = get_state(ctx)
    tenant = state.config.tenant
    filters = _filters(operation, principal, since, until)
    log = state.memory.audit_log
    if output is None:
        count = log.export_jsonl(tenant, sys.stdout, **filters)
        sys.stdout.flush()
    else:
        with output.open("w", encoding="utf-8") as fh:
            count = log.export_jsonl(tenant, fh, **filters)
        print(f"exported {count} audit record(s) to {output}", file=sys.stderr)
