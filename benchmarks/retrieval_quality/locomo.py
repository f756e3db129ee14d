"""Retrieval quality on LoCoMo-format conversations, through the public API only.

Each conversation gets its own tenant, so a question searches only its own conversation
(as published evaluations do). Each session becomes one completed episode: its task text
is a header ("Conversation between A and B on <date>"; a session has no task description
of its own, and inventing one from its content would leak the answer), its turns are the
steps (tool = speaker, action = the turn's text, step_number = turn index + 1). Every
question of categories 1-4 is asked through ``retrieve_relevant_context`` (limit 10,
up to 20 steps per episode); category 5 (adversarial, unanswerable) is left out.

- session-level recall@k: an evidence session is among the top k episodes;
- turn-level recall@k: an evidence turn is among the first k steps read in order, i.e.
  the steps of the first episode (as returned), then those of the second, and so on;
- MRR: mean reciprocal rank of the first evidence session (top 10) / turn (top 20).

Run (the full dev set, then one conversation as CI does)::

    uv run python benchmarks/retrieval_quality/locomo.py /work/shared/data/locomo-dev
    uv run python benchmarks/retrieval_quality/locomo.py DIR --quick --storage file --embeddings none

Results go to ``benchmarks/results/locomo.json`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memory_core import (
    ExecutionStep,
    MemoryConfig,
    SelfLearningMemory,
    StepResult,
    TaskOutcome,
)
from memory_core.retrieval import RankingWeights

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "locomo.json"
CATEGORIES = (1, 2, 3, 4)
SESSION_KS = (1, 5, 10)
TURN_KS = (5, 10, 20)
EPISODES_PER_QUERY = max(SESSION_KS)
STEPS_PER_EPISODE = max(TURN_KS)  # enough: the first k steps read never need more
_SESSION_KEY = re.compile(r"session_(\d+)")
# Evidence ids as written in the data, tolerating its typos ('D:11:26', 'D8:6; D9:17').
_EVIDENCE = re.compile(r"D:?(\d+):(\d+)")


@dataclass
class Turn:
    dia_id: str
    speaker: str
    text: str


@dataclass
class Session:
    number: int
    date: str
    turns: list[Turn]


@dataclass
class Question:
    text: str
    category: int
    turns: frozenset[str]
    sessions: frozenset[int]


@dataclass
class Conversation:
    name: str
    speakers: tuple[str, str]
    sessions: list[Session]
    questions: list[Question]
    skipped: int = 0  # questions of categories 1-4 whose evidence names no known turn


def _turn_text(raw: dict[str, Any]) -> str:
    return str(raw.get("text", ""))


def load_conversation(path: Path) -> Conversation:
    """One LoCoMo-format file (either the bare conversation or the ``{"conversation":
    ..., "qa": ...}`` layout of the published ``locomo10.json``)."""
    raw = json.loads(path.read_text())
    conv = raw.get("conversation", raw)
    sessions = []
    for key, value in conv.items():
        match = _SESSION_KEY.fullmatch(key)
        if match and isinstance(value, list) and value:
            number = int(match.group(1))
            turns = [Turn(str(t["dia_id"]), str(t["speaker"]), _turn_text(t)) for t in value]
            sessions.append(Session(number, str(conv.get(f"{key}_date_time", "")), turns))
    sessions.sort(key=lambda s: s.number)
    known = {t.dia_id for s in sessions for t in s.turns}
    questions, skipped = [], 0
    for qa in raw.get("qa", []):
        category = int(qa.get("category", 0))
        if category not in CATEGORIES:
            continue
        evidence = {
            f"D{s}:{t}" for item in qa.get("evidence", []) for s, t in _EVIDENCE.findall(item)
        } & known
        if not evidence:
            skipped += 1
            continue
        questions.append(
            Question(
                str(qa["question"]),
                category,
                frozenset(evidence),
                frozenset(int(e[1:].split(":")[0]) for e in evidence),
            )
        )
    speakers = (str(conv.get("speaker_a", "A")), str(conv.get("speaker_b", "B")))
    return Conversation(path.stem, speakers, sessions, questions, skipped)


def load(data_dir: Path) -> list[Conversation]:
    paths = sorted(data_dir.glob("*.json"), key=lambda p: (len(p.stem), p.stem))
    if not paths:
        raise SystemExit(f"no LoCoMo-format *.json files in {data_dir}")
    return [load_conversation(p) for p in paths]


def task_text(conv: Conversation, session: Session) -> str:
    a, b = conv.speakers
    when = f" on {session.date}" if session.date else ""
    return f"Conversation between {a} and {b}{when}"


def store(memory: SelfLearningMemory, conv: Conversation, tenant: str) -> dict[str, int]:
    """One completed episode per session; returns episode id -> session number."""
    episodes: dict[str, int] = {}
    batch = memory.limits.max_steps_per_call
    for session in conv.sessions:
        eid = memory.start_episode(task_text(conv, session), tenant=tenant)
        steps = [
            ExecutionStep(
                step_number=i + 1,
                tool=turn.speaker,
                action=turn.text,
                result=StepResult.success(),
            )
            for i, turn in enumerate(session.turns)
        ]
        for start in range(0, len(steps), batch):
            memory.log_steps(eid, steps[start : start + batch], tenant=tenant)
        memory.complete_episode(eid, TaskOutcome.success("conversation recorded"), tenant=tenant)
        episodes[str(eid)] = session.number
    return episodes


@dataclass
class Tally:
    """Hits at each k and reciprocal ranks, for one group of questions."""

    n: int = 0
    session_hits: dict[int, int] = field(default_factory=lambda: dict.fromkeys(SESSION_KS, 0))
    turn_hits: dict[int, int] = field(default_factory=lambda: dict.fromkeys(TURN_KS, 0))
    session_rr: float = 0.0
    turn_rr: float = 0.0

    def add(self, session_rank: int | None, turn_rank: int | None) -> None:
        self.n += 1
        for k in SESSION_KS:
            self.session_hits[k] += session_rank is not None and session_rank <= k
        for k in TURN_KS:
            self.turn_hits[k] += turn_rank is not None and turn_rank <= k
        self.session_rr += 1.0 / session_rank if session_rank else 0.0
        self.turn_rr += 1.0 / turn_rank if turn_rank else 0.0

    def summary(self) -> dict[str, float | int]:
        n = self.n or 1
        out: dict[str, float | int] = {"questions": self.n}
        out.update({f"S_R@{k}": round(v / n, 4) for k, v in self.session_hits.items()})
        out.update({f"T_R@{k}": round(v / n, 4) for k, v in self.turn_hits.items()})
        out["S_MRR"] = round(self.session_rr / n, 4)
        out["T_MRR"] = round(self.turn_rr / n, 4)
        return out


def first_rank(items: Iterable[Any], wanted: frozenset[Any]) -> int | None:
    for rank, item in enumerate(items, start=1):
        if item in wanted:
            return rank
    return None


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def evaluate(
    data_dir: Path,
    *,
    storage: str = "memory",
    embeddings: str = "local",
    quick: bool = False,
    weights: RankingWeights | None = None,
) -> dict[str, Any]:
    conversations = load(data_dir)
    if quick:
        conversations = conversations[:1]
    with tempfile.TemporaryDirectory(prefix="locomo-") as tmp:
        url = "memory:" if storage == "memory" else f"file:{Path(tmp) / 'locomo.db'}"
        config = MemoryConfig(database_url=url, cache_backend="none", embedding_provider=embeddings)
        memory = SelfLearningMemory(config=config, weights=weights)
        try:
            memory.warm()
            report = _run(memory, conversations, data_dir, storage, embeddings, quick)
            report["weights"] = dataclasses.asdict(memory.weights)
            return report
        finally:
            memory.close()


def _run(
    memory: SelfLearningMemory,
    conversations: list[Conversation],
    data_dir: Path,
    storage: str,
    embeddings: str,
    quick: bool,
) -> dict[str, Any]:
    overall = Tally()
    by_category: dict[int, Tally] = defaultdict(Tally)
    by_conversation: dict[str, Tally] = defaultdict(Tally)
    latencies_ms: list[float] = []
    started = time.perf_counter()
    for conv in conversations:
        tenant = f"locomo-{conv.name}"
        episodes = store(memory, conv, tenant)
        memory.flush()  # every session's vectors written (the embedding worker caught up)
        turn_ids = {s.number: [t.dia_id for t in s.turns] for s in conv.sessions}
        for q in conv.questions:
            t0 = time.perf_counter()
            results = memory.retrieve_relevant_context(
                q.text,
                limit=EPISODES_PER_QUERY,
                tenant=tenant,
                max_steps_per_episode=STEPS_PER_EPISODE,
            )
            latencies_ms.append((time.perf_counter() - t0) * 1000)
            sessions = [episodes[str(r.episode.id)] for r in results]
            read_order = [
                turn_ids[episodes[str(r.episode.id)]][step.step_number - 1]
                for r in results
                for step in r.steps
            ]
            s_rank = first_rank(sessions, q.sessions)
            t_rank = first_rank(read_order[: max(TURN_KS)], q.turns)
            for tally in (overall, by_category[q.category], by_conversation[conv.name]):
                tally.add(s_rank, t_rank)
    health = memory.health()
    return {
        "benchmark": "locomo retrieval quality",
        "data_dir": str(data_dir),
        "conversations": [c.name for c in conversations],
        "sessions": sum(len(c.sessions) for c in conversations),
        "turns": sum(len(s.turns) for c in conversations for s in c.sessions),
        "skipped_questions": sum(c.skipped for c in conversations),
        "storage": storage,
        "embeddings": embeddings,
        "embedder": health.embeddings.model_dump(mode="json"),
        "retrieval_mode": health.retrieval_mode,
        "quick": quick,
        "python": platform.python_version(),
        "overall": overall.summary(),
        "by_category": {str(c): by_category[c].summary() for c in sorted(by_category)},
        "by_conversation": {k: v.summary() for k, v in by_conversation.items()},
        "query_ms": {
            "p50": round(statistics.median(latencies_ms), 3) if latencies_ms else None,
            "p95": round(percentile(latencies_ms, 0.95), 3),
            "n": len(latencies_ms),
        },
        "total_seconds": round(time.perf_counter() - started, 2),
    }


COLUMNS = ("S_R@1", "S_R@5", "S_R@10", "T_R@5", "T_R@10", "T_R@20", "S_MRR", "T_MRR")


def table(report: dict[str, Any]) -> str:
    head = "| group | n | " + " | ".join(c.replace("_", " ") for c in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    rows = [("overall", report["overall"])]
    rows += [(f"category {c}", s) for c, s in report["by_category"].items()]
    rows += [(f"conversation {c}", s) for c, s in report["by_conversation"].items()]
    for name, s in rows:
        cells = " | ".join(f"{s[c]:.3f}" for c in COLUMNS)
        lines.append(f"| {name} | {s['questions']} | {cells} |")
    q = report["query_ms"]
    lines.append("")
    lines.append(
        f"query time: p50 {q['p50']} ms, p95 {q['p95']} ms over {q['n']} queries "
        f"({report['storage']} storage, embeddings {report['embeddings']})"
    )
    return "\n".join(lines)


def parse_weights(parser: argparse.ArgumentParser, pairs: list[str]) -> RankingWeights:
    fields = {f.name: f.type for f in dataclasses.fields(RankingWeights)}
    values: dict[str, Any] = {}
    for pair in pairs:
        name, _, raw = pair.partition("=")
        if name not in fields or not raw:
            parser.error(f"--weight: expected NAME=VALUE with NAME one of {', '.join(fields)}")
        try:
            values[name] = int(raw) if fields[name] in (int, "int") else float(raw)
        except ValueError:
            parser.error(f"--weight {name}: {raw!r} is not a number")
    return RankingWeights(**values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, help="a directory of LoCoMo-format *.json files")
    parser.add_argument("--storage", choices=("memory", "file"), default="memory")
    parser.add_argument("--embeddings", choices=("local", "transformer", "none"), default="local")
    parser.add_argument("--quick", action="store_true", help="only the first conversation")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a RankingWeights field, to measure a variant (repeatable)",
    )
    args = parser.parse_args(argv)
    if not args.data_dir.is_dir():
        parser.error(f"data_dir: {args.data_dir} is not a directory")
    report = evaluate(
        args.data_dir,
        storage=args.storage,
        embeddings=args.embeddings,
        quick=args.quick,
        weights=parse_weights(parser, args.weight),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report), flush=True)
    print(f"results written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
