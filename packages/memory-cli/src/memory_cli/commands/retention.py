"""``memory retention``: the per-tenant retention policies and applying them now.

Policies come from config (``[retention.<tenant>]`` or ``[retention."*"]`` in
memory-cli.toml, or ``MEMORY_RETENTION`` as JSON): ``max_age_days``,
``successful_max_age_days``, ``max_episodes``, ``keep_successful_longer``,
``abandoned_after_days``. Servers apply them every ``retention_interval_seconds``; this
command applies them once, erasing everywhere (see ``memory erase``).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from memory_core.security import RetentionReport, acting_as, apply_retention
from rich.table import Table

from memory_cli._examples import examples
from memory_cli._output import emit, to_data
from memory_cli._principal import principal
from memory_cli._state import get_state

app = typer.Typer(
    help="Retention policies per tenant: show them, apply them (with a dry run).",
    epilog=examples("memory retention show", "memory retention apply --dry-run"),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@app.command(epilog=examples("memory retention show", "memory -f json retention show"))
def show(ctx: typer.Context) -> None:
    """The configured policies, the audit log's own retention and the job interval."""
    state = get_state(ctx)
    config = state.config
    data = {
        "policies": {tenant: to_data(p) for tenant, p in config.retention.items()},
        "current_tenant": config.tenant,
        "applies_to_current_tenant": to_data(
            config.retention.get(config.tenant) or config.retention.get("*")
        ),
        "audit_retention_days": config.audit_retention_days,
        "retention_interval_seconds": config.retention_interval_seconds,
    }

    def table() -> Any:
        if not config.retention:
            return "no retention policies configured (episodes are kept forever)"
        t = Table(box=None, pad_edge=False)
        for col in ("tenant", "max age", "successful max age", "max episodes", "abandoned after"):
            t.add_column(col)
        for tenant, p in config.retention.items():
            t.add_row(
                tenant, _days(p.max_age_days), _days(p.successful_max_age_days),
                "-" if p.max_episodes is None else str(p.max_episodes),
                _days(p.abandoned_after_days),
            )  # fmt: skip
        return t

    emit(state.format, data, table)


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:g} d"


def _report(r: RetentionReport) -> dict[str, Any]:
    return {
        "tenant": r.tenant,
        "dry_run": r.dry_run,
        "episodes": [{"id": str(eid), "reason": reason} for eid, reason in r.expired],
        "erased": len(r.erasure.episode_ids) if r.erasure else 0,
        "patterns_updated": r.erasure.patterns_updated if r.erasure else 0,
        "patterns_deleted": r.erasure.patterns_deleted if r.erasure else 0,
    }


@app.command(
    epilog=examples(
        "memory retention apply --dry-run",
        "memory retention apply --all-tenants",
        "memory -f json --tenant team-a retention apply",
    )
)
def apply(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would go; change nothing.")
    ] = False,
    all_tenants: Annotated[
        bool,
        typer.Option(
            "--all-tenants", help="Every tenant named in the policies, not only the current."
        ),
    ] = False,
) -> None:
    """Apply the retention policy of the tenant (global --tenant) now."""
    state = get_state(ctx)
    memory = state.memory
    tenants = None if all_tenants else [state.config.tenant]
    policies = state.config.retention
    configured = {t for t in (tenants or policies) if t in policies or "*" in policies}
    with acting_as(principal()):
        reports = [_report(r) for r in apply_retention(memory, tenants=tenants, dry_run=dry_run)]

    def table() -> Any:
        lines: list[Any] = []
        for r in reports:
            if r["tenant"] not in configured:
                lines.append(f"{r['tenant']}: no retention policy")
                continue
            verb = "would erase" if r["dry_run"] else "erased"
            lines.append(f"{r['tenant']}: {verb} {len(r['episodes'])} episode(s)")
            for e in r["episodes"]:
                lines.append(f"  {e['id']}  {e['reason']}")
        return lines or ["no tenant has a retention policy"]

    emit(state.format, reports, table)
