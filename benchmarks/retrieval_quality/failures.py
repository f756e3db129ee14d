"""Why LoCoMo questions miss at turn recall@10: a breakdown of the misses, through the public API.

Stores and asks as ``locomo.py`` does (one tenant per conversation, one episode per
session, ``retrieve_relevant_context`` with limit 10 and 20 steps per episode), then sorts
every question whose evidence turn is not among the first 10 steps read into one class:

- ``session first, turn read after 10`` / ``session first, turn not returned``: the
  evidence session ranks first and the miss is inside it (which of its steps are shown);
- ``session 2-5`` / ``session 6-10`` / ``session not returned``: another session ranks
  first and its steps fill the first ten read.

It also reads the results again with the best-ranked evidence session moved to the front
(each episode keeps the steps it was returned with): turn recall if session ranking alone
were perfect, a lower estimate of that bound (the moved session lacks the context steps a
first episode gets). And it compares the evidence turns with all turns (length, share
that ask a question), the properties a ranking change would have to use.

    uv run python benchmarks/retrieval_quality/failures.py /work/shared/data/locomo-dev --embeddings transformer
    uv run python benchmarks/retrieval_quality/failures.py DIR --quick --embeddings none --show 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import locomo
from memory_core import MemoryConfig, SelfLearningMemory

CLASSES = (
    "session first, turn read after 10",
    "session first, turn not returned",
    "session 2-5",
    "session 6-10",
    "session not returned",
)


def classify(s_rank: int | None, t_rank: int | None) -> str:
    """The class of a turn-R@10 miss (``CLASSES``)."""
    if s_rank == 1:
        return CLASSES[0] if t_rank is not None else CLASSES[1]
    if s_rank is None:
        return CLASSES[4]
    return CLASSES[2] if s_rank <= 5 else CLASSES[3]


def evidence_first(
    sessions: list[int], steps: list[list[str]], wanted: frozenset[int]
) -> list[str]:
    """The read order with the best-ranked evidence session moved to the front."""
    order = list(range(len(sessions)))
    for k, s in enumerate(sessions):
        if s in wanted:
            order.insert(0, order.pop(k))
            break
    return [turn for k in order for turn in steps[k]]


def analyse(
    data_dir: Path, *, storage: str, embeddings: str, quick: bool, show: int
) -> dict[str, Any]:
    conversations = locomo.load(data_dir)[: 1 if quick else None]
    misses: Counter[str] = Counter()
    by_category: dict[int, Counter[str]] = defaultdict(Counter)
    moved = dict.fromkeys(locomo.TURN_KS, 0)
    total = dict.fromkeys(locomo.TURN_KS, 0)
    examples: list[dict[str, Any]] = []
    asked = 0
    with tempfile.TemporaryDirectory(prefix="locomo-failures-") as tmp:
        url = "memory:" if storage == "memory" else f"file:{Path(tmp) / 'locomo.db'}"
        config = MemoryConfig(database_url=url, cache_backend="none", embedding_provider=embeddings)
        memory = SelfLearningMemory(config=config)
        try:
            memory.warm()
            for conv in conversations:
                tenant = f"locomo-{conv.name}"
                episodes = locomo.store(memory, conv, tenant)
                memory.flush()
                turn_ids = {s.number: [t.dia_id for t in s.turns] for s in conv.sessions}
                text = {t.dia_id: f"{t.speaker}: {t.text}" for s in conv.sessions for t in s.turns}
                for q in conv.questions:
                    asked += 1
                    results = memory.retrieve_relevant_context(
                        q.text,
                        limit=locomo.EPISODES_PER_QUERY,
                        tenant=tenant,
                        max_steps_per_episode=locomo.STEPS_PER_EPISODE,
                    )
                    sessions = [episodes[str(r.episode.id)] for r in results]
                    steps = [
                        [turn_ids[s][step.step_number - 1] for step in r.steps]
                        for s, r in zip(sessions, results, strict=True)
                    ]
                    read = [t for part in steps for t in part]
                    s_rank = locomo.first_rank(sessions, q.sessions)
                    t_rank = locomo.first_rank(read[: max(locomo.TURN_KS)], q.turns)
                    m_rank = locomo.first_rank(
                        evidence_first(sessions, steps, q.sessions)[: max(locomo.TURN_KS)],
                        q.turns,
                    )
                    for k in locomo.TURN_KS:
                        total[k] += t_rank is not None and t_rank <= k
                        moved[k] += m_rank is not None and m_rank <= k
                    if t_rank is not None and t_rank <= 10:
                        continue
                    cls = classify(s_rank, t_rank)
                    misses[cls] += 1
                    by_category[q.category][cls] += 1
                    if len(examples) < show:
                        examples.append(
                            {
                                "conversation": conv.name,
                                "question": q.text,
                                "category": q.category,
                                "class": cls,
                                "session_rank": s_rank,
                                "evidence": {t: text[t] for t in sorted(q.turns)},
                                "first_read": {t: text[t] for t in read[:3]},
                            }
                        )
            turns = [t for c in conversations for s in c.sessions for t in s.turns]
            evidence = {(c.name, t) for c in conversations for q in c.questions for t in q.turns}
            ev_turns = [
                t for c in conversations for s in c.sessions for t in s.turns
                if (c.name, t.dia_id) in evidence
            ]  # fmt: skip
        finally:
            memory.close()
    n = asked or 1
    return {
        "data_dir": str(data_dir),
        "storage": storage,
        "embeddings": embeddings,
        "questions": asked,
        "turn_recall": {f"T_R@{k}": round(v / n, 4) for k, v in total.items()},
        "turn_recall_evidence_session_first": {
            f"T_R@{k}": round(v / n, 4) for k, v in moved.items()
        },
        "misses_at_10": {c: misses[c] for c in CLASSES},
        "misses_by_category": {
            str(c): {k: v for k, v in by_category[c].items()} for c in sorted(by_category)
        },
        "turns": _profile(turns),
        "evidence_turns": _profile(ev_turns),
        "examples": examples,
    }


def _profile(turns: list[locomo.Turn]) -> dict[str, float]:
    """Mean words and the share of turns that end with a question mark."""
    if not turns:
        return {"n": 0, "mean_words": 0.0, "asks": 0.0}
    return {
        "n": len(turns),
        "mean_words": round(statistics.mean(len(t.text.split()) for t in turns), 1),
        "asks": round(sum(t.text.rstrip().endswith("?") for t in turns) / len(turns), 3),
    }


def render(report: dict[str, Any]) -> str:
    lines = [
        f"{report['questions']} questions ({report['storage']} storage, embeddings "
        f"{report['embeddings']})",
        "turn recall as read:            "
        + " ".join(f"{k} {v:.3f}" for k, v in report["turn_recall"].items()),
        "evidence session moved first:   "
        + " ".join(f"{k} {v:.3f}" for k, v in report["turn_recall_evidence_session_first"].items()),
        "",
        "| miss at T R@10 | questions |",
        "|---|---:|",
    ]
    lines += [f"| {c} | {v} |" for c, v in report["misses_at_10"].items()]
    for name in ("turns", "evidence_turns"):
        p = report[name]
        lines.append(
            f"{name}: {p['n']}, mean {p['mean_words']} words, {p['asks']:.1%} end with '?'"
        )
    for ex in report["examples"]:
        lines.append("")
        lines.append(f"[{ex['class']}] {ex['conversation']} cat {ex['category']}: {ex['question']}")
        lines += [f"  evidence {k}: {v[:160]}" for k, v in ex["evidence"].items()]
        lines += [f"  read     {k}: {v[:160]}" for k, v in ex["first_read"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, help="a directory of LoCoMo-format *.json files")
    parser.add_argument("--storage", choices=("memory", "file"), default="memory")
    parser.add_argument(
        "--embeddings", choices=("local", "transformer", "none"), default="transformer"
    )
    parser.add_argument("--quick", action="store_true", help="only the first conversation")
    parser.add_argument("--show", type=int, default=10, help="misses printed with their turns")
    parser.add_argument("--out", type=Path, default=None, help="also write the report as JSON")
    args = parser.parse_args(argv)
    if not args.data_dir.is_dir():
        parser.error(f"data_dir: {args.data_dir} is not a directory")
    report = analyse(
        args.data_dir,
        storage=args.storage,
        embeddings=args.embeddings,
        quick=args.quick,
        show=args.show,
    )
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
