"""Shared ``--domain/--type/--outcome/--tag/--since/--until`` options and their filter."""

from __future__ import annotations

from typing import Annotated

import typer
from memory_core import EpisodeFilter, EpisodeStatus, OutcomeType, TaskType

from memory_cli._parsing import parse_when

DomainOpt = Annotated[str | None, typer.Option("--domain", help="Only this domain.")]
TypeOpt = Annotated[TaskType | None, typer.Option("--type", help="Only this task type.")]
OutcomeOpt = Annotated[OutcomeType | None, typer.Option("--outcome", help="Only this outcome.")]
StatusOpt = Annotated[EpisodeStatus | None, typer.Option("--status", help="Only this status.")]
LanguageOpt = Annotated[str | None, typer.Option("--language", help="Only this language.")]
FrameworkOpt = Annotated[str | None, typer.Option("--framework", help="Only this framework.")]
TagOpt = Annotated[
    list[str] | None, typer.Option("--tag", help="Only episodes with this tag (repeat: all).")
]
SinceOpt = Annotated[
    str | None,
    typer.Option("--since", help="Started at or after: ISO time or an age (30m, 24h, 7d)."),
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="Started before: ISO time or an age (30m, 24h, 7d).")
]


def episode_filter(
    *,
    domain: str | None = None,
    task_type: TaskType | None = None,
    outcome: OutcomeType | None = None,
    status: EpisodeStatus | None = None,
    language: str | None = None,
    framework: str | None = None,
    tags: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
) -> EpisodeFilter:
    return EpisodeFilter(
        domain=domain,
        task_type=task_type,
        outcome=outcome,
        status=status,
        language=language,
        framework=framework,
        tags=tags or [],
        since=parse_when(since, "--since"),
        until=parse_when(until, "--until"),
    )
