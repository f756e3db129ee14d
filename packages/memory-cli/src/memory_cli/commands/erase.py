"""``memory erase``: erasure ("right to be forgotten") of an episode, a tenant, or every
episode matching a filter.

Removed from the storage tables, the search indexes, the vectors, the patterns derived
only from it (shared patterns lose only its contribution), and the cache; exports made
afterwards no longer contain it. The audit log keeps only that an erasure happened.
Refused without ``--yes``; ``--dry-run`` lists what would go.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from memory_core import EpisodeNotFoundError
from memory_core.security import (
    ErasureReport,
    acting_as,
    erase_episode,
    erase_matching,
    erase_tenant,
)

from memory_cli._errors import CliError
from memory_cli._examples import examples
from memory_cli._filters import (
    DomainOpt,
    FrameworkOpt,
    LanguageOpt,
    OutcomeOpt,
    SinceOpt,
    StatusOpt,
    TagOpt,
    TypeOpt,
    UntilOpt,
    episode_filter,
)
from memory_cli._output import emit
from memory_cli._parsing import parse_uuid
from memory_cli._principal import principal
from memory_cli._state import get_state

app = typer.Typer(
    help="Erase episodes everywhere (storage, indexes, vectors, patterns, cache).",
    epilog=examples(
        "memory erase episode $ID --yes",
        "memory erase matching --domain billing --until 90d --dry-run",
        "memory erase tenant team-a --yes",
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

YesOpt = Annotated[bool, typer.Option("--yes", help="Confirm: erasure cannot be undone.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="List what would go; change nothing.")]
CompactOpt = Annotated[
    bool,
    typer.Option(
        "--compact", help="Also rewrite the database and cache files without freed pages."
    ),
]


def _confirm(yes: bool, dry_run: bool, what: str) -> None:
    if not (yes or dry_run):
        raise CliError(f"refusing to erase {what} without --yes (or try --dry-run first)")


def _emit(ctx: typer.Context, report: ErasureReport) -> None:
    state = get_state(ctx)
    data = {
        "tenant": report.tenant,
        "dry_run": report.dry_run,
        "episode_ids": [str(e) for e in report.episode_ids],
        "patterns_updated": report.patterns_updated,
        "patterns_deleted": report.patterns_deleted,
        "heuristics_deleted": report.heuristics_deleted,
        "patterns_retracted": report.patterns_retracted,
        "compacted": report.compacted,
    }

    def table() -> Any:
        verb = "would erase" if report.dry_run else "erased"
        lines: list[Any] = [f"{verb} {len(report.episode_ids)} episode(s) of {report.tenant}"]
        lines += [f"  {e}" for e in report.episode_ids]
        if not report.dry_run:
            lines.append(
                f"patterns: {report.patterns_updated} updated, {report.patterns_deleted} deleted;"
                f" heuristics deleted: {report.heuristics_deleted}"
            )
        return lines

    emit(state.format, data, table)


@app.command(
    epilog=examples("memory erase episode $ID --yes", "memory erase episode $ID --dry-run")
)
def episode(
    ctx: typer.Context,
    episode_id: Annotated[str, typer.Argument(help="Episode id (UUID).", show_default=False)],
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    compact: CompactOpt = False,
) -> None:
    """Erase one episode of the tenant (global --tenant) everywhere."""
    eid = parse_uuid(episode_id, "EPISODE_ID")
    _confirm(yes, dry_run, f"episode {eid}")
    state = get_state(ctx)
    memory = state.memory
    tenant = state.config.tenant
    if dry_run:
        memory.get_episode(eid)  # raises EpisodeNotFoundError
        _emit(ctx, ErasureReport(tenant=tenant, episode_ids=[eid], dry_run=True))
        return
    with acting_as(principal()):
        report = erase_episode(memory, eid, compact=compact)
    if not report.episode_ids:
        raise EpisodeNotFoundError(eid)
    _emit(ctx, report)


@app.command(
    epilog=examples(
        "memory erase matching --domain billing --dry-run",
        "memory erase matching --tag customer-42 --yes",
        "memory erase matching --outcome failure --until 30d --yes",
    )
)
def matching(
    ctx: typer.Context,
    domain: DomainOpt = None,
    task_type: TypeOpt = None,
    outcome: OutcomeOpt = None,
    status: StatusOpt = None,
    language: LanguageOpt = None,
    framework: FrameworkOpt = None,
    tag: TagOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    compact: CompactOpt = False,
) -> None:
    """Erase every episode of the tenant matching all given filters (at least one)."""
    f = episode_filter(
        domain=domain, task_type=task_type, outcome=outcome, status=status, language=language,
        framework=framework, tags=tag, since=since, until=until,
    )  # fmt: skip
    _confirm(yes, dry_run, "the matching episodes")
    state = get_state(ctx)
    with acting_as(principal()):
        report = erase_matching(state.memory, f, dry_run=dry_run, compact=compact)
    _emit(ctx, report)


@app.command(
    epilog=examples("memory erase tenant team-a --dry-run", "memory erase tenant team-a --yes")
)
def tenant(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The tenant to erase.", show_default=False)],
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    compact: CompactOpt = False,
) -> None:
    """Erase every episode, pattern and heuristic of a tenant, and its cache; its audit
    log keeps a record of the erasure. Its tokens are revoked too."""
    _confirm(yes, dry_run, f"tenant {name}")
    state = get_state(ctx)
    memory = state.memory
    with acting_as(principal()):
        report = erase_tenant(memory, name, dry_run=dry_run, compact=compact)
        if not dry_run:
            _revoke_tokens(memory, name)
    _emit(ctx, report)


def _revoke_tokens(memory: Any, tenant: str) -> None:
    from memory_core.security import TokenStore

    store = TokenStore(memory.storage, cache_seconds=0.0)
    for info in store.list(tenant=tenant):
        store.revoke(info.id)
        memory.audit("token_revoke", principal(), [info.id], "ok:erase_tenant", tenant=tenant)
