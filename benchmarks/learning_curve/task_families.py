"""Seeded task families with a hidden best tool sequence, decoys, and paraphrases.

A family is an intent ("add an endpoint", "fix a failing migration", ...) with:

* ``best``: the tool sequence that works (drawn from the seed, so a new seed gives
  families whose answers the ranking was never tuned on);
* ``decoys``: sequences that fail outright (failed steps, failure outcome);
* ``lure``: a sequence that *looks* fine when observed (success outcome) but fails when
  an agent applies it; only ``record_pattern_outcome`` feedback can expose it;
* ``train`` phrasings for the stored episodes and held-out ``test`` phrasings (unseen
  wording, other domains and programming languages), plus one phrasing in another
  natural language per family, reported apart.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from memory_core import TaskContext, TaskType

TOOLS = [
    "read_file",
    "grep_code",
    "edit_file",
    "write_file",
    "run_tests",
    "run_linter",
    "run_migration",
    "rollback_migration",
    "install_deps",
    "edit_manifest",
    "build_project",
    "start_server",
    "curl_endpoint",
    "read_logs",
    "git_diff",
    "git_commit",
    "open_pr",
    "run_profiler",
    "explain_query",
    "format_code",
]

# (name, task type, train phrasings, held-out phrasings, other-language phrasing)
INTENTS: list[tuple[str, TaskType, list[str], list[str], str]] = [
    (
        "add an endpoint",
        TaskType.CODE_GENERATION,
        [
            "Add a {obj} endpoint to the {svc} API",
            "Create a REST route returning {obj} in {svc}",
            "Implement GET /{obj} for the {svc} service",
        ],
        [
            "Expose {obj} over HTTP from {svc}",
            "New handler so clients can fetch {obj} from {svc}",
            "{svc} needs an API route for {obj}",
        ],
        "Añadir un endpoint de {obj} a la API de {svc}",
    ),
    (
        "fix a failing migration",
        TaskType.DEBUGGING,
        [
            "Fix the failing {obj} migration in {svc}",
            "Database migration for {obj} breaks in {svc}",
            "Repair the broken schema migration of {obj} tables in {svc}",
        ],
        [
            "{svc} deploy fails while migrating the {obj} schema",
            "Alembic upgrade errors on the {obj} table in {svc}",
            "Schema change for {obj} cannot be applied in {svc}",
        ],
        "Die Migration für {obj} in {svc} schlägt fehl",
    ),
    (
        "bump a dependency",
        TaskType.OTHER,
        [
            "Bump the {obj} library in {svc}",
            "Upgrade {obj} to the latest version in {svc}",
            "Update the {obj} package pin for {svc}",
        ],
        [
            "Move {svc} to a newer release of {obj}",
            "{obj} is outdated in {svc}, raise the version",
            "Refresh the {obj} dependency of {svc}",
        ],
        "Mettre à jour la dépendance {obj} dans {svc}",
    ),
    (
        "fix a flaky test",
        TaskType.TESTING,
        [
            "Fix the flaky {obj} test in {svc}",
            "Stabilise the intermittent {obj} test of {svc}",
            "The {obj} test in {svc} fails randomly",
        ],
        [
            "{svc} CI is red now and then because of the {obj} test",
            "Make the {obj} test in {svc} deterministic",
            "Nondeterministic failure in {svc} {obj} spec",
        ],
        "Arreglar el test inestable de {obj} en {svc}",
    ),
    (
        "speed up a slow query",
        TaskType.ANALYSIS,
        [
            "Speed up the slow {obj} query in {svc}",
            "Optimize the {obj} SQL query of {svc}",
            "The {obj} report query in {svc} is too slow",
        ],
        [
            "{svc} times out when loading {obj}, tune the database query",
            "Reduce latency of fetching {obj} rows in {svc}",
            "Profile and index the {obj} lookup in {svc}",
        ],
        "Die Abfrage für {obj} in {svc} ist zu langsam",
    ),
    (
        "add a CLI flag",
        TaskType.CODE_GENERATION,
        [
            "Add a --{obj} flag to the {svc} CLI",
            "Support a {obj} command-line option in {svc}",
            "New {obj} argument for the {svc} command",
        ],
        [
            "Let users pass {obj} on the {svc} command line",
            "{svc} tool should accept an option for {obj}",
            "Extend the {svc} argument parser with {obj}",
        ],
        "Añadir una opción --{obj} a la línea de comandos de {svc}",
    ),
    (
        "document a module",
        TaskType.DOCUMENTATION,
        [
            "Document the {obj} module of {svc}",
            "Write docs for {obj} in {svc}",
            "Add a README section about {obj} to {svc}",
        ],
        [
            "Explain how {obj} works in the {svc} docs",
            "{svc} has no documentation for {obj}",
            "Describe the {obj} API of {svc} for new developers",
        ],
        "Documenter le module {obj} de {svc}",
    ),
    (
        "rotate a secret",
        TaskType.OTHER,
        [
            "Rotate the {obj} secret of {svc}",
            "Replace the leaked {obj} key in {svc}",
            "Renew the {obj} credentials used by {svc}",
        ],
        [
            "{svc} must stop using the old {obj} token",
            "Issue a fresh {obj} credential for {svc}",
            "Swap out the compromised {obj} password in {svc}",
        ],
        "Rotar el secreto {obj} de {svc}",
    ),
]
OBJECTS = [
    "invoice",
    "user",
    "order",
    "payment",
    "report",
    "session",
    "webhook",
    "audit",
    "export",
    "profile",
]
SERVICES = [
    "billing",
    "accounts",
    "catalog",
    "gateway",
    "ledger",
    "storefront",
    "identity",
    "analytics",
]
CONTEXTS = [
    TaskContext(domain="web-api", language="python", framework="fastapi"),
    TaskContext(domain="web-api", language="typescript", framework="express"),
    TaskContext(domain="backend", language="go"),
    TaskContext(domain="cli", language="rust"),
    TaskContext(domain="backend", language="java", framework="spring"),
]


@dataclass(frozen=True)
class Family:
    name: str
    task_type: TaskType
    best: list[str]
    decoys: list[list[str]]
    lure: list[str]
    train: list[str]
    test: list[str]
    foreign: str


def families(seed: int, count: int) -> list[Family]:
    """``count`` families (at most ``len(INTENTS)``) with seeded hidden sequences."""
    if not 1 <= count <= len(INTENTS):
        raise ValueError(f"--families must be 1..{len(INTENTS)}")
    rng = random.Random(seed)
    out = []
    used: set[tuple[str, ...]] = set()

    def sequence() -> list[str]:
        while True:
            seq = rng.sample(TOOLS, rng.randint(3, 5))
            if tuple(seq) not in used:
                used.add(tuple(seq))
                return seq

    for name, task_type, train, test, foreign in rng.sample(INTENTS, count):
        out.append(Family(name, task_type, sequence(), [sequence(), sequence()], sequence(),
                          train, test, foreign))  # fmt: skip
    return out


def describe(template: str, rng: random.Random) -> str:
    return template.format(obj=rng.choice(OBJECTS), svc=rng.choice(SERVICES))
