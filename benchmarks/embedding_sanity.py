"""Sanity check of an embedding provider on LoCoMo (dev half): recall, speed, memory.

For each question of categories 1-4, the cosine of the question against every turn of its
conversation ranks the turns (turn-level recall@10: an evidence turn in the top 10) and the
sessions, each scored by its best turn (session-level recall@1/@5: an evidence session in
the top k). Also: model load time, per-query encode p50/p95 (one question per call, as at
retrieval time), batch throughput over all turns, and RSS. Not a test: run it by hand::

    uv run python benchmarks/embedding_sanity.py                 # the bundled local model
    uv run python benchmarks/embedding_sanity.py --provider openai   # needs OPENAI_API_KEY
    uv run python benchmarks/embedding_sanity.py --turn-format speaker   # 'Speaker: text'
    uv run python benchmarks/embedding_sanity.py --json              # machine-readable

Reference (issue 3): model2vec distilled from MiniLM, 256-d int8, best turn: S R@1 .43,
S R@5 .75, T R@10 .485, query p50 0.06 ms. Measured here (2 busy cores): plain turn text
.407 / .701 / .461; 'Speaker: text' .450 / .759 / .543. The turn text format moves recall
more than the model: full MiniLM (torch) on the same protocol gives .338 / .678 / .324 on
plain text and .454 / .776 / .567 with the speaker prefix.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from memory_core import MemoryConfig
from memory_core.embeddings import provider_from_config

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "locomo-dev"
_EVIDENCE = re.compile(r"D:?(\d+):(\d+)")  # tolerates the dataset's 'D:11:26' and 'D8:6; D9:17'


@dataclass
class Conversation:
    turn_ids: list[str]  # "D3:7"
    turn_sessions: np.ndarray  # session number per turn
    texts: list[str]
    questions: list[tuple[str, set[str], set[int]]]  # (question, evidence turns, sessions)


def load(data_dir: Path, turn_format: str = "text") -> list[Conversation]:
    conversations = []
    for path in sorted(data_dir.glob("*.json")):
        raw = json.loads(path.read_text())
        turn_ids, sessions, texts = [], [], []
        for key, value in raw.items():
            match = re.fullmatch(r"session_(\d+)", key)
            if match and isinstance(value, list):
                for turn in value:
                    turn_ids.append(turn["dia_id"])
                    sessions.append(int(match.group(1)))
                    text = turn["text"]
                    texts.append(f"{turn['speaker']}: {text}" if turn_format == "speaker" else text)
        known = set(turn_ids)
        questions = []
        for qa in raw["qa"]:
            if qa["category"] not in (1, 2, 3, 4):
                continue
            evidence = {
                f"D{s}:{t}" for item in qa.get("evidence", []) for s, t in _EVIDENCE.findall(item)
            } & known
            if evidence:
                questions.append(
                    (qa["question"], evidence, {int(e[1:].split(":")[0]) for e in evidence})
                )
        conversations.append(Conversation(turn_ids, np.array(sessions), texts, questions))
    return conversations


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--provider", default="local", help="local, openai or a plugin name")
    parser.add_argument(
        "--turn-format",
        choices=("text", "speaker"),
        default="text",
        help="embed a turn as its text, or as 'Speaker: text' (names in questions then match)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    conversations = load(args.data, args.turn_format)
    rss_before = rss_mb()
    started = time.perf_counter()
    provider = provider_from_config(MemoryConfig(embedding_provider=args.provider))
    if provider is None:
        raise SystemExit("provider 'none' has no vectors to check")
    provider.warm()
    load_ms = (time.perf_counter() - started) * 1000
    rss_loaded = rss_mb()

    all_turns = [t for c in conversations for t in c.texts]
    started = time.perf_counter()
    turn_vectors = provider.embed(all_turns)
    batch_s = time.perf_counter() - started

    latencies: list[float] = []
    t_hits10 = s_hits1 = s_hits5 = total = 0
    offset = 0
    for conv in conversations:
        vectors = turn_vectors[offset : offset + len(conv.texts)]
        offset += len(conv.texts)
        session_ids = np.unique(conv.turn_sessions)
        for question, evidence, evidence_sessions in conv.questions:
            t0 = time.perf_counter()
            q = provider.embed([question])[0]
            latencies.append((time.perf_counter() - t0) * 1000)
            scores = vectors @ q
            top_turns = np.argsort(-scores, kind="stable")[:10]
            t_hits10 += any(conv.turn_ids[i] in evidence for i in top_turns)
            best = np.array([scores[conv.turn_sessions == s].max() for s in session_ids])
            ranked = session_ids[np.argsort(-best, kind="stable")]
            s_hits1 += int(ranked[0]) in evidence_sessions
            s_hits5 += bool(evidence_sessions & {int(s) for s in ranked[:5]})
            total += 1

    latencies.sort()
    result = {
        "provider": provider.model_id,
        "dimension": provider.dimension,
        "turn_format": args.turn_format,
        "questions": total,
        "turns": len(all_turns),
        "S_R@1": round(s_hits1 / total, 3),
        "S_R@5": round(s_hits5 / total, 3),
        "T_R@10": round(t_hits10 / total, 3),
        "query_p50_ms": round(statistics.median(latencies), 4),
        "query_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 4),
        "batch_texts_per_s": round(len(all_turns) / batch_s),
        "load_ms": round(load_ms, 1),
        "rss_mb_before_load": round(rss_before, 1),
        "rss_mb_after_load": round(rss_loaded, 1),
        "rss_mb_end": round(rss_mb(), 1),
        "cpus": os.cpu_count(),
    }
    provider.close()
    if args.json:
        print(json.dumps(result))
        return
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    print(
        "\nreference (issue 3, static MiniLM 256-d int8): S R@1 .43  S R@5 .75  T R@10 .485",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
