"""Query embedding latency of each embedder, in one run (issue 14 target: p50 ≤ 5 ms).

One query per call, as retrieval embeds it: the static model, the transformer on numpy
and the transformer on onnxruntime, interleaved round by round so that load from other
processes on a shared machine falls on all three alike. Also a batch of step texts (the
background worker's path), per text. Not a test::

    uv run python benchmarks/query_embedding.py              # 300 queries
    uv run python benchmarks/query_embedding.py --rounds 1000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from benchlib.paraphrase import notes
from benchlib.stats import machine, summarize
from memory_core.embeddings import StaticEmbeddingProvider, TransformerEmbeddingProvider


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args(argv)
    providers: dict[str, Any] = {
        "static (local)": StaticEmbeddingProvider(),
        "transformer numpy": TransformerEmbeddingProvider(engine="numpy"),
        "transformer onnxruntime": TransformerEmbeddingProvider(engine="onnxruntime"),
    }
    loads = {}
    for name, p in providers.items():
        t0 = time.perf_counter()
        p.warm()
        loads[name] = round(time.perf_counter() - t0, 3)
    queries = [n.paraphrase for n in notes(args.rounds, 8)]
    for p in providers.values():  # warm the code paths
        for q in queries[:20]:
            p.embed([q])
    samples: dict[str, list[float]] = {name: [] for name in providers}
    for q in queries:
        for name, p in providers.items():
            t0 = time.perf_counter()
            p.embed([q])
            samples[name].append(time.perf_counter() - t0)
    batch = [n.text for n in notes(64, 9)]
    report: dict[str, Any] = {"machine": machine(), "rounds": args.rounds, "providers": {}}
    for name, p in providers.items():
        t0 = time.perf_counter()
        p.embed(batch)
        per_text = (time.perf_counter() - t0) * 1000 / len(batch)
        s = summarize(samples[name])
        report["providers"][name] = {
            "load_s": loads[name], "query_p50_ms": s["p50_ms"], "query_p95_ms": s["p95_ms"],
            "batch_ms_per_text": round(per_text, 3),
        }  # fmt: skip
        print(f"{name:24} load {loads[name]:.2f} s  query p50 {s['p50_ms']:.2f} ms  "
              f"p95 {s['p95_ms']:.2f} ms  batch {per_text:.2f} ms/text")  # fmt: skip
    print(json.dumps(report["machine"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
