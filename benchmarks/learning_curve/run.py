"""Learning curve: does the memory learn a family's working tool sequence from experience?

For each N in 0, 5, 10, 20, 50, 100: a fresh ``SelfLearningMemory`` (the public API,
in-memory storage, default local embedder) is fed N completed episodes per family: 35%
follow the hidden best sequence (success), 35% a lure (observed success, but it fails
whenever it is applied later), 30% a decoy (a failing step, failure outcome). Then, on
held-out paraphrases of each family's task:

* ``P@1 seq``: the first ``tool_sequence`` pattern returned by
  ``retrieve_relevant_patterns`` is the family's best sequence (``P@1 any``: the very first
  pattern of any kind is);
* ``best>lure``: the best sequence ranks above the lure, before and after feedback
  (``record_pattern_outcome``: the best applied 5 times and worked, the lure 5 times and
  failed);
* ``dups``: stored ``tool_sequence`` patterns per family beyond one per distinct sequence;
* ``P@1 foreign``: the same as ``P@1 seq`` for a phrasing in Spanish, German or French.

Seeded: runs compare between commits; ``--seed`` gives families the ranking was not
tuned on::

    uv run python benchmarks/learning_curve/run.py                     # 8 families, seed 1
    uv run python benchmarks/learning_curve/run.py --seed 7 --families 5
    uv run python benchmarks/learning_curve/run.py --quick             # CI

Writes ``benchmarks/results/learning_curve.json`` and ``learning_curve.png``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from memory_core import (
    ExecutionStep,
    PatternFilter,
    PatternKind,
    RetrievedPattern,
    SelfLearningMemory,
    StepResult,
    TaskOutcome,
)
from task_families import CONTEXTS, Family, describe, families

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results"
FEEDBACK_ROUNDS = 5


def _steps(family: Family, tools: list[str], fail_last: bool, obj: str) -> list[ExecutionStep]:
    out = []
    for i, tool in enumerate(tools, 1):
        failed = fail_last and i == len(tools)
        out.append(
            ExecutionStep(
                step_number=i,
                tool=tool,
                action=f"{tool.replace('_', ' ')} for {obj}",
                result=StepResult.error(f"{tool} failed on {obj}")
                if failed
                else StepResult.success(f"{tool} done"),
            )
        )
    return out


def feed(memory: SelfLearningMemory, family: Family, n: int, rng: random.Random) -> None:
    """N finished episodes of one family through start → log_steps → complete."""
    for _ in range(n):
        text = describe(rng.choice(family.train), rng)
        roll = rng.random()
        if roll < 0.35:
            tools, ok = family.best, True
        elif roll < 0.70:
            tools, ok = family.lure, True
        else:
            tools, ok = rng.choice(family.decoys), False
        eid = memory.start_episode(text, rng.choice(CONTEXTS), family.task_type)
        memory.log_steps(eid, _steps(family, tools, not ok, text.split()[-1]))
        outcome = TaskOutcome.success("works") if ok else TaskOutcome.failure("tests still fail")
        memory.complete_episode(eid, outcome)


def _sequence_pattern_id(memory: SelfLearningMemory, family: Family, tools: list[str]) -> Any:
    f = PatternFilter(kind=PatternKind.TOOL_SEQUENCE, task_type=family.task_type)
    for p in memory.list_patterns(f, limit=500):
        if p.tools == tools:
            return p.id
    return None


def give_feedback(memory: SelfLearningMemory, family: Family, rng: random.Random) -> None:
    """The best sequence is applied and works; the lure is applied and fails."""
    best = _sequence_pattern_id(memory, family, family.best)
    lure = _sequence_pattern_id(memory, family, family.lure)
    for _ in range(FEEDBACK_ROUNDS):
        for pid, worked in ((best, True), (lure, False)):
            if pid is None:
                continue
            eid = memory.start_episode(describe(rng.choice(family.train), rng))
            memory.record_pattern_outcome(pid, eid, worked)


def _rank(results: list[RetrievedPattern], tools: list[str]) -> int | None:
    seqs = [r for r in results if r.pattern.kind is PatternKind.TOOL_SEQUENCE]
    return next((i for i, r in enumerate(seqs) if r.pattern.tools == tools), None)


def _ordered(results: list[RetrievedPattern], family: Family) -> bool:
    best, lure = _rank(results, family.best), _rank(results, family.lure)
    return best is not None and (lure is None or best < lure)


def evaluate(
    memory: SelfLearningMemory, fams: list[Family], queries: list[list[tuple[str, Any]]]
) -> dict[str, float]:
    p1_seq, p1_any, ordered, latencies = [], [], [], []
    for family, qs in zip(fams, queries, strict=True):
        for text, ctx in qs:
            t0 = time.perf_counter()
            results = memory.retrieve_relevant_patterns(text, ctx, limit=10)
            latencies.append(time.perf_counter() - t0)
            p1_seq.append(_rank(results, family.best) == 0)
            top = results[0].pattern if results else None
            p1_any.append(top is not None and top.kind is PatternKind.TOOL_SEQUENCE
                          and top.tools == family.best)  # fmt: skip
            ordered.append(_ordered(results, family))
    return {
        "p1_seq": statistics.mean(p1_seq),
        "p1_any": statistics.mean(p1_any),
        "best_above_lure": statistics.mean(ordered),
        "p50_ms": statistics.median(latencies) * 1000,
    }


def duplicates(memory: SelfLearningMemory, fams: list[Family]) -> float:
    """Mean extra tool_sequence patterns per family beyond one per distinct sequence."""
    extra = []
    for family in fams:
        f = PatternFilter(kind=PatternKind.TOOL_SEQUENCE, task_type=family.task_type)
        mine = [family.best, family.lure, *family.decoys]
        stored = [p.tools for p in memory.list_patterns(f, limit=1000) if p.tools in mine]
        extra.append(len(stored) - len({tuple(t) for t in stored}))
    return statistics.mean(extra)


def run_n(n: int, fams: list[Family], seed: int, test_per_family: int) -> dict[str, Any]:
    rng = random.Random(seed * 1000 + n)
    qrng = random.Random(seed)  # the same held-out queries for every N
    held_out = [[(describe(qrng.choice(f.test), qrng), qrng.choice(CONTEXTS))
                 for _ in range(test_per_family)] for f in fams]  # fmt: skip
    foreign = [[(describe(f.foreign, qrng), None)] for f in fams]
    t0 = time.perf_counter()
    with SelfLearningMemory() as memory:
        for family in fams:
            feed(memory, family, n, rng)
        feed_s = time.perf_counter() - t0
        before = evaluate(memory, fams, held_out)
        for family in fams:
            give_feedback(memory, family, rng)
        after = evaluate(memory, fams, held_out)
        other = evaluate(memory, fams, foreign)
        dups = duplicates(memory, fams)
    return {
        "n": n,
        "p1_seq": round(after["p1_seq"], 3),
        "p1_any": round(after["p1_any"], 3),
        "p1_seq_before_feedback": round(before["p1_seq"], 3),
        "best_above_lure_before_feedback": round(before["best_above_lure"], 3),
        "best_above_lure_after_feedback": round(after["best_above_lure"], 3),
        "p1_foreign": round(other["p1_seq"], 3),
        "duplicates_per_family": round(dups, 3),
        "retrieve_patterns_p50_ms": round(after["p50_ms"], 2),
        "feed_seconds": round(feed_s, 1),
    }


def render(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        f"Learning curve: seed {meta['seed']}, {meta['families']} families "
        f"({', '.join(meta['family_names'])}), {meta['test_per_family']} held-out queries each",
        "",
        "| N/family | P@1 seq | P@1 any | P@1 seq (no feedback) | best>lure before | "
        "best>lure after | P@1 foreign | dups/family | patterns p50 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']} | {r['p1_seq']:.2f} | {r['p1_any']:.2f} | {r['p1_seq_before_feedback']:.2f} "
            f"| {r['best_above_lure_before_feedback']:.2f} | {r['best_above_lure_after_feedback']:.2f} "
            f"| {r['p1_foreign']:.2f} | {r['duplicates_per_family']:.1f} "
            f"| {r['retrieve_patterns_p50_ms']:.1f} ms |"
        )
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], meta: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r["n"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for key, label, style in [
        ("p1_seq", "P@1: best sequence first (after feedback)", "o-"),
        ("p1_seq_before_feedback", "P@1 before feedback", "o--"),
        ("best_above_lure_after_feedback", "best ranked above lure (after feedback)", "s-"),
        ("best_above_lure_before_feedback", "best above lure (before feedback)", "s--"),
        ("p1_foreign", "P@1, other natural language", "^:"),
    ]:
        ax.plot(xs, [r[key] for r in rows], style, label=label)
    ax.set_xscale("symlog", linthresh=5)
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("completed episodes per family")
    ax.set_ylabel("fraction of held-out queries")
    ax.set_title(f"Learning curve (seed {meta['seed']}, {meta['families']} families)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--families", type=int, default=8)
    p.add_argument("--ns", type=lambda s: [int(x) for x in s.split(",")],
                   default=[0, 5, 10, 20, 50, 100])  # fmt: skip
    p.add_argument("--test-per-family", type=int, default=10)
    p.add_argument("--quick", action="store_true", help="3 families, N = 0, 5, 20 (CI)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if args.quick:
        args.families, args.ns, args.test_per_family = 3, [0, 5, 20], 4
    fams = families(args.seed, args.families)
    meta = {
        "command": "python benchmarks/learning_curve/run.py " + " ".join(argv or sys.argv[1:]),
        "seed": args.seed,
        "families": len(fams),
        "family_names": [f.name for f in fams],
        "test_per_family": args.test_per_family,
        "feedback_rounds": FEEDBACK_ROUNDS,
    }
    rows = []
    for n in args.ns:
        print(f"N = {n} ...", file=sys.stderr)
        rows.append(run_n(n, fams, args.seed, args.test_per_family))
    table = render(rows, meta)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "learning_curve.json").write_text(json.dumps({**meta, "rows": rows}, indent=2))
    (args.out / "learning_curve.md").write_text(table)
    plot(rows, meta, args.out / "learning_curve.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
