"""Seeded task families and the world that says how a plan turns out.

Everything about a family comes from the seed: its intent (a verb and an object drawn
from word pools), its phrasings, its context, the one tool sequence that works, the
lures (plausible variants that fail at their final check) and the cost of every tool.
So a new seed gives families, wordings and answers nobody tuned the memory on.

The agent sees a :class:`Task` (its text, its context and the candidate plans it can
think of, shuffled and unlabelled); only :meth:`World.execute` knows which plan works,
and the agent learns that only from the steps' results.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from memory_core import TaskContext, TaskType

TOOLS = (
    "read_file", "grep_code", "edit_file", "write_file", "run_tests", "run_linter",
    "run_migration", "rollback_migration", "install_deps", "edit_manifest", "build_project",
    "start_server", "curl_endpoint", "read_logs", "git_diff", "git_commit", "open_pr",
    "run_profiler", "explain_query", "format_code", "list_dir", "query_db", "deploy_staging",
    "check_metrics",
)  # fmt: skip

VERBS = (
    ("paginate", "add paging to", "split into pages"),
    ("cache", "add a cache in front of", "memoise"),
    ("deprecate", "phase out", "retire"),
    ("localise", "translate", "add locale support to"),
    ("rate-limit", "throttle", "cap the request rate of"),
    ("backfill", "repopulate", "fill in the history of"),
    ("shard", "partition", "split across nodes"),
    ("audit", "add an audit trail to", "log every change to"),
    ("encrypt", "protect at rest", "add encryption to"),
    ("debounce", "coalesce bursts in", "smooth the spikes of"),
    ("index", "add a search index to", "speed up lookups in"),
    ("archive", "move to cold storage", "age out"),
    ("validate", "add input checks to", "reject bad payloads in"),
    ("retry", "add retries to", "make resilient"),
    ("version", "add versioning to", "keep revisions of"),
    ("stream", "send incrementally", "chunk the output of"),
)
OBJECTS = (
    "invoice export", "user sessions", "order history", "payment webhooks", "audit log",
    "search results", "profile pictures", "shipping quotes", "tax reports", "inventory feed",
    "chat transcripts", "price list", "login tokens", "refund queue", "sensor readings",
    "email digests",
)  # fmt: skip
SERVICES = ("billing", "accounts", "catalog", "gateway", "ledger", "storefront", "identity")
TEMPLATES = (
    "{verb} the {obj} in {svc}",
    "We need to {verb} the {obj} of the {svc} service",
    "{svc}: {verb} {obj}",
    "Please {verb} the {obj} ({svc})",
    "Task for {svc} - {verb} the {obj}",
    "Can you {verb} the {obj} used by {svc}?",
)
CONTEXTS = (
    ("web-api", "python", "fastapi"),
    ("web-api", "typescript", "express"),
    ("backend", "go", None),
    ("cli", "rust", None),
    ("backend", "java", "spring"),
    ("data", "python", "airflow"),
)
TASK_TYPES = (TaskType.CODE_GENERATION, TaskType.DEBUGGING, TaskType.REFACTORING, TaskType.OTHER)


@dataclass(frozen=True)
class Family:
    """A kind of task. ``solution`` and ``lures`` are hidden from the agent."""

    name: str
    verbs: tuple[str, ...]
    obj: str
    task_type: TaskType
    context: TaskContext
    solution: tuple[str, ...]
    lures: tuple[tuple[str, ...], ...]
    costs: dict[str, int] = field(hash=False)

    @property
    def candidates(self) -> list[tuple[str, ...]]:
        return [self.solution, *self.lures]

    def cost(self, tools: list[str] | tuple[str, ...]) -> int:
        return sum(self.costs[t] for t in tools)


@dataclass(frozen=True)
class Task:
    """What the agent sees: a new phrasing of a family's intent and plans it might try."""

    family: Family
    text: str
    candidates: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class StepOutcome:
    tool: str
    action: str
    ok: bool
    output: str


def _lure(
    solution: tuple[str, ...], rng: random.Random, taken: set[tuple[str, ...]]
) -> tuple[str, ...]:
    """A plausible variant of the solution that fails: same start, one later step
    replaced, dropped or swapped with its neighbour (plans an agent would also think of)."""
    while True:
        seq = list(solution)
        i = rng.randrange(1, len(seq))
        moves = ["replace", "swap" if i + 1 < len(seq) else "replace"]
        if len(seq) > 3:
            moves.append("drop")
        move = rng.choice(moves)
        if move == "replace":
            seq[i] = rng.choice([t for t in TOOLS if t not in seq])
        elif move == "drop":
            del seq[i]
        else:
            seq[i], seq[i + 1] = seq[i + 1], seq[i]
        out = tuple(seq)
        if out not in taken and not contains_in_order(list(out), solution):
            taken.add(out)
            return out


def families(seed: int, count: int, lures: int = 3) -> list[Family]:
    """``count`` families drawn from the seed (distinct intents, solutions and lures)."""
    if not 1 <= count <= len(VERBS):
        raise ValueError(f"count must be 1..{len(VERBS)}; got {count}")
    rng = random.Random(seed)
    verbs = rng.sample(VERBS, count)
    objs = rng.sample(OBJECTS, count)
    out: list[Family] = []
    taken: set[tuple[str, ...]] = set()
    for v, obj in zip(verbs, objs, strict=True):
        while True:
            solution = tuple(rng.sample(TOOLS, rng.randint(3, 5)))
            if solution not in taken:
                taken.add(solution)
                break
        domain, language, framework = rng.choice(CONTEXTS)
        out.append(
            Family(
                name=f"{v[0]} {obj}",
                verbs=v,
                obj=obj,
                task_type=rng.choice(TASK_TYPES),
                context=TaskContext(domain=domain, language=language, framework=framework),
                solution=solution,
                lures=tuple(_lure(solution, rng, taken) for _ in range(lures)),
                costs={t: rng.randint(1, 3) for t in TOOLS},
            )
        )
    return out


class World:
    """Makes tasks and runs plans. ``flaky``: chance that even the solution's final check
    fails (tests are flaky in real life too), so no curve reaches 1.0 by construction."""

    def __init__(self, seed: int, flaky: float = 0.03) -> None:
        self.rng = random.Random(seed * 7919 + 1)
        self.flaky = flaky

    def task(self, family: Family) -> Task:
        rng = self.rng
        text = rng.choice(TEMPLATES).format(
            verb=rng.choice(family.verbs), obj=family.obj, svc=rng.choice(SERVICES)
        )
        plans = family.candidates
        rng.shuffle(plans)
        return Task(family, text[0].upper() + text[1:], tuple(plans))

    def execute(self, task: Task, plan: list[str]) -> list[StepOutcome]:
        """Run a plan: every step works except, when the plan does not contain the
        solution in order, the last one (the final check reports what is still wrong)."""
        works = contains_in_order(plan, task.family.solution) and self.rng.random() >= self.flaky
        out = []
        for i, tool in enumerate(plan):
            last = i == len(plan) - 1
            ok = works or not last
            action = f"{tool.replace('_', ' ')} for {task.family.obj}"
            output = "ok" if ok else f"check failed: {task.family.obj} still broken after {tool}"
            out.append(StepOutcome(tool, action, ok, output))
        return out


def contains_in_order(plan: list[str], needed: tuple[str, ...]) -> bool:
    it = iter(plan)
    return all(any(t == n for t in it) for n in needed)
