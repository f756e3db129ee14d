"""Does the next task go better? A simulated agent over held-out task families.

For each seed: ``--families`` families are drawn from the seed (intents, phrasings,
hidden solution, lures, tool costs; see ``simulator.py``), and each agent variant works
through ``--tasks`` new tasks per family, families interleaved, ``--replicates`` times
with fresh memories (the agent's own choices and flaky checks differ per replicate):

* ``oracle``: knows the family's solution and tries it first (the best possible);
* ``no memory``: tries the plans it can think of in random order;
* ``keyword memory``: ``SelfLearningMemory(embedder=None)``; replays the best lexical
  match among past successes (``retrieve_relevant_context(outcome="success")``);
* ``memory``: the default ``SelfLearningMemory()``; follows ``recommend_playbook``.

An agent has two attempts per task; it learns only from the steps' results. Reported per
N (tasks of that family seen before): success rate, steps per success, the ratio of
steps per success to the oracle's (the family's solution, first try), and regret in
tool cost: ``cost − oracle cost``, plus the oracle cost again for a failed task (it is
still to be done). Spread: mean ± standard deviation over the seeds' means, and the
largest drop between consecutive N of any seed's mean success.

The ``oracle`` variant (knows the solution, tries it first) is flat in expectation: its
drops are sampling noise (flaky checks) and show the floor the drop target is read
against. A seed's mean at one N is over ``families × replicates`` tasks; with the
default 8 × 3 = 24 a drop has a standard error of about 0.06 at a success rate of 0.95,
so the 0.05 target can only be read on a longer run (``--replicates 30``: 240 tasks a
point, standard error 0.02)::

    uv run python benchmarks/learning/run.py                  # seeds 101 102 103: the table
    uv run python benchmarks/learning/run.py --seeds 7 8 9 --families 12
    uv run python benchmarks/learning/run.py --tasks 11 --replicates 30 \
        --variants oracle memory                              # the drop target
    uv run python benchmarks/learning/run.py --quick          # smoke: 1 seed, small

Writes ``benchmarks/results/<name>.json``, ``<name>.md`` and ``<name>.png`` (``--name``,
default ``learning``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from agents import Explorer, KeywordAgent, MemoryAgent, OracleAgent  # noqa: E402
from memory_core import SelfLearningMemory  # noqa: E402
from simulator import World, families  # noqa: E402

RESULTS = HERE.parent / "results"
VARIANTS = ("oracle", "no memory", "keyword memory", "memory")
TABLE_N = (0, 1, 2, 3, 5, 10, 15, 20)


def make_agent(variant: str, world: World, seed: int) -> Explorer:
    if variant == "oracle":
        return OracleAgent(world, seed)
    if variant == "no memory":
        return Explorer(world, seed)
    if variant == "keyword memory":
        return KeywordAgent(world, seed, SelfLearningMemory(embedder=None))
    return MemoryAgent(world, seed, SelfLearningMemory())


def run_seed(
    seed: int, n_families: int, tasks: int, replicates: int, variants: tuple[str, ...] = VARIANTS
) -> list[dict[str, Any]]:
    fams = families(seed, n_families)
    rows: list[dict[str, Any]] = []
    for variant in variants:
        for rep in range(replicates):
            world = World(seed * 1000 + rep)
            agent = make_agent(variant, world, seed * 1000 + rep)
            for n in range(tasks):
                for fam in fams:
                    task = world.task(fam)
                    r = agent.solve(task)
                    oracle = fam.cost(fam.solution)
                    rows.append(
                        {
                            "seed": seed, "variant": variant, "replicate": rep, "n": n,
                            "family": fam.name, "success": r.success, "steps": r.steps,
                            "oracle_steps": len(fam.solution), "cost": r.cost,
                            "regret": r.cost - oracle + (0 if r.success else oracle),
                            "followed_memory": r.followed_memory,
                        }
                    )  # fmt: skip
            memory = getattr(agent, "memory", None)
            if memory is not None:
                memory.close()
    return rows


def summarise(
    rows: list[dict[str, Any]], seeds: list[int], tasks: int, variants: tuple[str, ...] = VARIANTS
) -> dict[str, Any]:
    by: dict[tuple[str, int, int], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by[(r["variant"], r["seed"], r["n"])].append(r)
    curves: dict[str, list[dict[str, Any]]] = {}
    for variant in variants:
        points = []
        for n in range(tasks):
            per_seed = []
            for seed in seeds:
                group = by[(variant, seed, n)]
                wins = [r for r in group if r["success"]]
                per_seed.append(
                    {
                        "success": len(wins) / len(group),
                        "steps": statistics.fmean(r["steps"] for r in wins) if wins else None,
                        "ratio": statistics.fmean(r["steps"] / r["oracle_steps"] for r in wins)
                        if wins
                        else None,
                        "regret": statistics.fmean(r["regret"] for r in group),
                        "followed": statistics.fmean(r["followed_memory"] for r in group),
                    }
                )
            point: dict[str, Any] = {"n": n}
            for key in ("success", "steps", "ratio", "regret", "followed"):
                vals = [s[key] for s in per_seed if s[key] is not None]
                point[key] = round(statistics.fmean(vals), 4) if vals else None
                point[key + "_sd"] = round(statistics.pstdev(vals), 4) if len(vals) > 1 else 0.0
                point[key + "_per_seed"] = [
                    None if s[key] is None else round(s[key], 4) for s in per_seed
                ]
            points.append(point)
        drops = (
            [
                max(
                    (points[i]["success_per_seed"][k] - points[i + 1]["success_per_seed"][k])
                    for i in range(tasks - 1)
                )
                for k in range(len(seeds))
            ]
            if tasks > 1
            else [0.0]
        )
        curves[variant] = points
        curves["tasks_per_point"] = len(by[(variant, seeds[0], 0)])  # type: ignore[assignment]
        curves[variant + ":max_drop"] = [round(d, 4) for d in drops]  # type: ignore[assignment]
    return curves


def table(curves: dict[str, Any], tasks: int, variants: tuple[str, ...] = VARIANTS) -> str:
    lines = [
        "| N | variant | success | steps/success | × oracle steps | regret (cost) | followed memory |",
        "|---|---|---|---|---|---|---|",
    ]

    def cell(p: dict[str, Any], key: str, digits: int = 2) -> str:
        if p[key] is None:
            return "–"
        return f"{p[key]:.{digits}f} ± {p[key + '_sd']:.{digits}f}"

    for n in [n for n in TABLE_N if n < tasks] or [tasks - 1]:
        for variant in variants:
            p = curves[variant][n]
            lines.append(
                f"| {n} | {variant} | {cell(p, 'success')} | {cell(p, 'steps', 1)} | "
                f"{cell(p, 'ratio')} | {cell(p, 'regret', 1)} | {p['followed']:.2f} |"
            )
    drops = ", ".join(f"{v}: {max(curves[v + ':max_drop']):.3f}" for v in variants)
    n = curves["tasks_per_point"]
    lines.append("")
    lines.append(f"Largest drop of a seed's mean success between consecutive N: {drops}.")
    lines.append(
        f"Each seed's mean at an N is over {n} tasks (families × replicates): its standard "
        f"error is {(0.95 * 0.05 / n) ** 0.5:.3f} at a success rate of 0.95, so a drop "
        f"between two N has a standard error of {(2 * 0.95 * 0.05 / n) ** 0.5:.3f} from "
        "sampling alone; the oracle (flat in expectation) shows that floor."
    )
    return "\n".join(lines)


def plot(
    curves: dict[str, Any], path: Path, title: str, variants: tuple[str, ...] = VARIANTS
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for variant in variants:
        pts = curves[variant]
        ns = [p["n"] for p in pts]
        for ax, key in ((ax1, "success"), (ax2, "ratio")):
            xs = [p["n"] for p in pts if p[key] is not None]
            ys = [p[key] for p in pts if p[key] is not None]
            lo = [
                min(v for v in p[key + "_per_seed"] if v is not None)
                for p in pts
                if p[key] is not None
            ]
            hi = [
                max(v for v in p[key + "_per_seed"] if v is not None)
                for p in pts
                if p[key] is not None
            ]
            (line,) = ax.plot(xs, ys, marker="o", ms=3, label=variant)
            ax.fill_between(xs, lo, hi, alpha=0.15, color=line.get_color())
        ax1.set_xlim(0, max(ns))
    ax1.set_xlabel("tasks of the family seen before (N)")
    ax1.set_ylabel("success rate (band: min–max over seeds)")
    ax1.set_ylim(0, 1.02)
    ax1.axhline(0.9, color="grey", lw=0.6, ls="--")
    ax2.set_xlabel("tasks of the family seen before (N)")
    ax2.set_ylabel("steps per success ÷ oracle steps")
    ax2.axhline(1.2, color="grey", lw=0.6, ls="--")
    ax1.legend(loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103])
    ap.add_argument("--families", type=int, default=8)
    ap.add_argument("--tasks", type=int, default=21, help="tasks per family (N = 0..tasks-1)")
    ap.add_argument("--replicates", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1 seed, 3 families, 6 tasks, 1 replicate")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--name", default="learning", help="stem of the result files")
    ap.add_argument(
        "--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
        help="agents to run (a long run of the drop target needs only oracle and memory)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.families, args.tasks, args.replicates = args.seeds[:1], 3, 6, 1
    if args.tasks < 1 or args.replicates < 1:
        ap.error("--tasks and --replicates must be at least 1")
    try:
        families(args.seeds[0], args.families)
    except ValueError as exc:
        ap.error(f"--families: {exc}")
    variants = tuple(v for v in VARIANTS if v in args.variants)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for seed in args.seeds:
        rows.extend(run_seed(seed, args.families, args.tasks, args.replicates, variants))
    curves = summarise(rows, args.seeds, args.tasks, variants)
    elapsed = time.perf_counter() - started
    title = (
        f"seeds {' '.join(map(str, args.seeds))}, {args.families} families, "
        f"{args.replicates} replicate(s), {elapsed:.0f} s"
    )
    text = table(curves, args.tasks, variants)
    print(text)
    print(title)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "seconds": round(elapsed, 1), "curves": curves}  # fmt: skip
    (args.out / f"{args.name}.json").write_text(json.dumps(report, indent=1))
    (args.out / f"{args.name}.md").write_text(
        "# Learning benchmark\n\n`uv run python benchmarks/learning/run.py "
        + " ".join(argv if argv is not None else sys.argv[1:])
        + f"`\n\n{title}\n\n{text}\n"
    )
    plot(curves, args.out / f"{args.name}.png", title, variants)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
