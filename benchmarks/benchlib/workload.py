"""Deterministic synthetic workload: coding-agent tasks, their steps, and search queries.

Everything is drawn from a ``random.Random(seed)``, so two runs (or two commits) build the
same stores and ask the same questions. Texts mix a few hundred words across domains, so
lexical search has real work to do and episodes are not all alike.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from memory_core import (
    Episode,
    ExecutionStep,
    StepResult,
    TaskContext,
    TaskOutcome,
    TaskType,
)
from memory_core.reflection import reflect
from memory_core.reward import compute_reward

DOMAINS: list[tuple[str, str, str | None]] = [
    ("web-api", "python", "fastapi"),
    ("web-api", "typescript", "express"),
    ("cli", "rust", "clap"),
    ("data", "python", "pandas"),
    ("frontend", "typescript", "react"),
    ("infra", "go", None),
    ("mobile", "kotlin", "compose"),
    ("ml", "python", "pytorch"),
]
THINGS = [
    "invoice",
    "pagination",
    "health-check",
    "login",
    "session",
    "token",
    "refresh",
    "webhook",
    "retry",
    "rate-limit",
    "audit-log",
    "search-index",
    "csv-export",
    "avatar-upload",
    "password-reset",
    "feature-flag",
    "cache",
    "metrics",
    "dashboard",
    "notification",
    "email-template",
    "billing",
    "subscription",
    "checkout",
    "cart",
    "inventory",
    "shipping",
    "tax-calculation",
    "currency",
    "locale",
    "timezone",
    "scheduler",
    "cron-job",
    "queue",
    "worker",
    "backfill",
    "migration",
    "schema",
    "index",
    "foreign-key",
    "soft-delete",
    "tenant",
    "permission",
    "role",
    "oauth-callback",
    "sso",
    "api-key",
    "signature",
    "encryption",
    "config",
    "loader",
    "parser",
    "serializer",
    "validator",
    "router",
    "middleware",
    "logger",
    "tracing",
    "profiler",
    "healthcheck",
    "readiness",
    "probe",
]
SERVICES = [
    "orders",
    "accounts",
    "payments",
    "catalog",
    "gateway",
    "reports",
    "identity",
    "ledger",
    "storefront",
    "analytics",
    "notifier",
    "scheduler",
    "uploader",
    "search",
    "auth",
    "profile",
    "admin",
    "partner",
]
LIBS = [
    "requests",
    "django",
    "flask",
    "sqlalchemy",
    "pydantic",
    "numpy",
    "lodash",
    "axios",
    "webpack",
    "tokio",
    "serde",
    "reqwest",
    "react-router",
    "redux",
    "jest",
    "pytest",
    "celery",
    "redis-py",
    "boto3",
    "grpcio",
    "protobuf",
]
TEMPLATES: list[tuple[TaskType, str, list[str]]] = [
    (
        TaskType.CODE_GENERATION,
        "Add a {thing} endpoint to the {service} service",
        ["read_file", "edit_file", "run_tests"],
    ),
    (
        TaskType.DEBUGGING,
        "Fix the failing {thing} migration in {service}",
        ["run_tests", "read_logs", "edit_file", "run_migration", "run_tests"],
    ),
    (
        TaskType.OTHER,
        "Bump {lib} to the latest minor version in {service}",
        ["edit_manifest", "install_deps", "run_tests"],
    ),
    (
        TaskType.REFACTORING,
        "Refactor the {thing} module of the {service} service",
        ["read_file", "edit_file", "run_linter", "run_tests"],
    ),
    (
        TaskType.TESTING,
        "Write unit tests for the {thing} handler in {service}",
        ["read_file", "write_tests", "run_tests"],
    ),
    (
        TaskType.DEBUGGING,
        "Investigate flaky {thing} test in {service} CI",
        ["read_logs", "run_tests", "edit_file", "run_tests"],
    ),
    (
        TaskType.DOCUMENTATION,
        "Document the {thing} API of {service}",
        ["read_file", "write_docs", "build_docs"],
    ),
    (
        TaskType.ANALYSIS,
        "Profile slow {thing} queries in the {service} database",
        ["run_profiler", "read_file", "explain_query"],
    ),
]


@dataclass(frozen=True)
class Task:
    """A task description with what generated it (for paraphrases and checks)."""

    text: str
    task_type: TaskType
    context: TaskContext
    tools: list[str]
    thing: str
    service: str


def task(rng: random.Random, number: int | None = None) -> Task:
    """One random task; ``number`` appends a ticket id so descriptions stay distinct."""
    task_type, template, tools = rng.choice(TEMPLATES)
    domain, language, framework = rng.choice(DOMAINS)
    thing, service = rng.choice(THINGS), rng.choice(SERVICES)
    text = template.format(thing=thing, service=service, lib=rng.choice(LIBS))
    if number is not None:
        text += f" (ticket {number})"
    ctx = TaskContext(domain=domain, language=language, framework=framework)
    return Task(text, task_type, ctx, tools, thing, service)


def steps_for(
    t: Task, rng: random.Random, start: int = 1, count: int | None = None
) -> list[ExecutionStep]:
    """The task's tool path (or ``count`` steps cycling through it), some failing."""
    tools = t.tools if count is None else [t.tools[i % len(t.tools)] for i in range(count)]
    out = []
    for i, tool in enumerate(tools):
        ok = rng.random() > 0.1
        out.append(
            ExecutionStep(
                step_number=start + i,
                tool=tool,
                action=f"{tool.replace('_', ' ')} for {t.thing} in {t.service}",
                parameters={"path": f"src/{t.service}/{t.thing}.py"},
                result=StepResult.success(f"{tool} ok: {t.thing} updated")
                if ok
                else StepResult.error(f"{tool} failed: {t.thing} assertion error"),
                latency_ms=round(rng.uniform(5, 500), 1),
            )
        )
    return out


def completed_episode(rng: random.Random, number: int, base: datetime | None = None) -> Episode:
    """A finished episode as ``complete_episode`` would leave it (reward and reflection
    computed by memory-core's own functions), for ``SelfLearningMemory.import_episode``."""
    t = task(rng, number)
    started = (base or datetime(2025, 1, 1, tzinfo=UTC)) + timedelta(seconds=number * 60)
    steps = steps_for(t, rng)
    success = rng.random() > 0.2
    outcome = (
        TaskOutcome.success(f"{t.thing} done", [f"src/{t.service}/{t.thing}.py"])
        if success
        else TaskOutcome.failure(f"{t.thing} still broken")
    )
    episode = Episode(
        id=UUID(int=rng.getrandbits(128), version=4),
        task_description=t.text,
        task_type=t.task_type,
        context=t.context,
        steps=steps,
        started_at=started,
        updated_at=started,
    )
    done_at = started + timedelta(seconds=30)
    reward = compute_reward(episode, outcome, done_at)
    return episode.model_copy(
        update={
            "outcome": outcome,
            "reward": reward,
            "reflection": reflect(episode, outcome, reward),
            "completed_at": done_at,
            "updated_at": done_at,
        }
    )


QUERY_FORMS = [
    "how to add {thing} support to {service}",
    "{thing} broken in {service}, tests failing",
    "update {thing} handling for the {service} service",
    "{service} {thing} bug",
    "speed up {thing} in {service}",
]


def query(rng: random.Random) -> str:
    """A search query in words a user would type (not a stored description)."""
    return rng.choice(QUERY_FORMS).format(thing=rng.choice(THINGS), service=rng.choice(SERVICES))
