"""Query embedding latency of each embedder, in one run (issue 14 target: p50 ≤ 5 ms).

One query per call, as retrieval embeds it: the static model, the transformer on numpy,
on onnxruntime in float32, and the default int8 encoder (``embed_query``, what retrieval
uses, and on a CPU with VNNI what stored texts get too; ``memory_core.embeddings._int8``),
interleaved round by round so that load from other processes on a shared machine falls
on all alike, with CPU time per call beside wall time. The int8 line also gives its cosine to the float32 vectors. Also a
batch of step texts (the background worker's path), per text. Not a test::

    uv run python benchmarks/query_embedding.py              # 300 queries
    uv run python benchmarks/query_embedding.py --rounds 1000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np
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
        "transformer onnxruntime": TransformerEmbeddingProvider(
            engine="onnxruntime", int8_documents=False, int8_queries=False
        ),
    }
    int8 = TransformerEmbeddingProvider(engine="onnxruntime")  # the default: int8 for all
    calls: dict[str, Any] = {name: _one_query(p) for name, p in providers.items()}
    calls["transformer int8 (default)"] = int8.embed_query
    providers["transformer int8 (default)"] = int8
    loads = {}
    for name, p in providers.items():
        t0 = time.perf_counter()
        p.warm()
        loads[name] = round(time.perf_counter() - t0, 3)
    queries = [n.paraphrase for n in notes(args.rounds, 8)]
    for call in calls.values():  # warm the code paths
        for q in queries[:20]:
            call(q)
    samples: dict[str, list[float]] = {name: [] for name in providers}
    cpu: dict[str, int] = dict.fromkeys(providers, 0)
    for q in queries:
        for name, call in calls.items():
            t0, c0 = time.perf_counter(), time.thread_time_ns()
            call(q)
            cpu[name] += time.thread_time_ns() - c0
            samples[name].append(time.perf_counter() - t0)
    f32 = providers["transformer onnxruntime"].embed(queries)
    q8 = np.stack([int8.embed_query(q) for q in queries])
    cosine = (f32 * q8).sum(axis=1)
    batch = [n.text for n in notes(64, 9)]
    report: dict[str, Any] = {"machine": machine(), "rounds": args.rounds, "providers": {}}
    for name, p in providers.items():
        t0 = time.perf_counter()
        p.embed(batch)
        per_text = (time.perf_counter() - t0) * 1000 / len(batch)
        s = summarize(samples[name])
        cpu_ms = cpu[name] / len(queries) / 1e6
        report["providers"][name] = {
            "load_s": loads[name], "query_p50_ms": s["p50_ms"], "query_p95_ms": s["p95_ms"],
            "query_cpu_ms": round(cpu_ms, 3), "batch_ms_per_text": round(per_text, 3),
        }  # fmt: skip
        print(f"{name:27} load {loads[name]:.2f} s  query p50 {s['p50_ms']:.2f} ms  "
              f"p95 {s['p95_ms']:.2f} ms  cpu {cpu_ms:.2f} ms  batch {per_text:.2f} ms/text")  # fmt: skip
    report["int8_cosine"] = {"min": float(cosine.min()), "mean": float(cosine.mean())}
    print(f"int8 vs float32: cosine min {cosine.min():.4f}, mean {cosine.mean():.4f}")
    print(json.dumps(report["machine"]))
    return 0


def _one_query(provider: Any) -> Any:
    return lambda q: provider.embed([q])


if __name__ == "__main__":
    sys.exit(main())
