"""``EpisodeFilter`` and ``PatternFilter`` as SQL, so filtering happens before ranking.

The semantics are those of ``EpisodeFilter.matches`` (all set fields AND-ed, every tag
required, ``since`` inclusive, ``until`` exclusive); ``tests/test_filters.py`` checks
the SQL against it on generated data.
"""

from __future__ import annotations

from typing import Any

from memory_core import EpisodeFilter, PatternFilter

from memory_storage_turso._codec import ts


def episode_where(filters: EpisodeFilter, alias: str = "e") -> tuple[str, list[Any]]:
    """A condition over ``episodes AS alias`` (tenant not included) and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    simple = (
        ("domain", filters.domain),
        ("task_type", filters.task_type),
        ("outcome", filters.outcome),
        ("status", filters.status),
        ("language", filters.language),
        ("framework", filters.framework),
    )
    for column, value in simple:
        if value is not None:
            clauses.append(f"{alias}.{column} = ?")
            params.append(str(value.value) if hasattr(value, "value") else value)
    for tag in dict.fromkeys(filters.tags):
        clauses.append(
            f"EXISTS (SELECT 1 FROM episode_tags t WHERE t.tenant = {alias}.tenant "
            f"AND t.tag = ? AND t.episode_pk = {alias}.pk)"
        )
        params.append(tag)
    if filters.since is not None:
        clauses.append(f"{alias}.started_at >= ?")
        params.append(ts(filters.since))
    if filters.until is not None:
        clauses.append(f"{alias}.started_at < ?")
        params.append(ts(filters.until))
    return (" AND ".join(clauses) or "1"), params


def pattern_where(filters: PatternFilter, alias: str = "p") -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("kind", filters.kind),
        ("task_type", filters.task_type),
        ("domain", filters.domain),
    ):
        if value is not None:
            clauses.append(f"{alias}.{column} = ?")
            params.append(str(value.value) if hasattr(value, "value") else value)
    if filters.min_support:
        clauses.append(f"{alias}.support >= ?")
        params.append(filters.min_support)
    if filters.min_success_rate > 0:
        # The same IEEE division as Pattern.success_rate, so boundaries agree exactly.
        clauses.append(f"{alias}.support > 0 AND {alias}.successes / {alias}.support >= ?")
        params.append(filters.min_success_rate)
    return (" AND ".join(clauses) or "1"), params
