"""Scale benchmark: operation × store size → p50/p95/p99, throughput, peak RSS, disk size.

Builds one durable store (libSQL file) per size with ``SelfLearningMemory.import_episodes``
(the bulk import path: one transaction per batch of 500, embeddings in batches, patterns
merged once per batch, the vector graph built in the background as it writes, then
waited for: ``graph_catch_up_seconds``), reusing the previous size's store as a head
start and resuming an interrupted build. Stores live in ``benchmarks/.data/`` (gitignored) and are reused
between runs; each measurement runs in a fresh process on a throwaway copy, so writes
do not grow the cached store and peak RSS is that of one size::

    uv run python benchmarks/scale.py                 # 1K, 10K, 100K
    uv run python benchmarks/scale.py --full          # + 1M
    uv run python benchmarks/scale.py --quick         # 200, 1000 (CI)
    uv run python benchmarks/scale.py --sizes 5000    # any sizes
    uv run python benchmarks/scale.py --sizes 10000 --embedder transformer

``--embedder`` (default ``local``, the bundled static model) names the embedding
provider every store is built and measured with; a store built with another one is its
own file (``scale-<embedder>-<size>.db``), so the static stores are never re-embedded.

Writes ``benchmarks/results/scale.md`` and ``scale.json`` (``--out`` to change).
Retrieval queries are distinct per call, so they miss the retrieval cache and include
embedding the query with the chosen model (``--embedder``); ``retrieve_context (cache hit)``
repeats one query. The machine-independent figure is ``retrieval p95 / scan p95``: the
p95 of ``retrieve_relevant_context`` over the p95 of a one-thread numpy exact top-10
over a float32 matrix of the store's shape (vectors × dimension), timed in the same
process right after.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib.stats import disk_mb, fmt_ms, machine, peak_rss_mb, summarize, timed
from benchlib.workload import completed_episode, query, steps_for, task

HERE = Path(__file__).resolve().parent
WORKLOAD_VERSION = 1  # bump when benchlib.workload changes what a store contains
SEED = 20250101
BANDS = 10  # the build rate is reported per tenth of the target size


DEFAULT_EMBEDDER = "local"


def _prefix(embedder: str) -> str:
    return "scale-" if embedder == DEFAULT_EMBEDDER else f"scale-{embedder}-"


def store_paths(data_dir: Path, size: int, embedder: str = DEFAULT_EMBEDDER) -> tuple[Path, Path]:
    stem = f"{_prefix(embedder)}{size}"
    return data_dir / f"{stem}.db", data_dir / f"{stem}.json"


def _built_sizes(data_dir: Path, embedder: str) -> list[int]:
    """Sizes of the current workload's stores built with ``embedder``, largest first."""
    prefix, out = _prefix(embedder), []
    for marker in data_dir.glob(f"{prefix}*.json"):
        size = marker.stem[len(prefix) :]
        if size.isdigit() and json.loads(marker.read_text()).get("workload_version") == (
            WORKLOAD_VERSION
        ):
            out.append(int(size))
    return sorted(out, reverse=True)


def _files(db: Path) -> list[Path]:
    return [p for p in db.parent.glob(db.name + "*") if p.is_file()]


def _open(
    db: Path, cache: str, cache_path: Path | None = None, embedder: str = DEFAULT_EMBEDDER
) -> Any:
    from memory_core import MemoryConfig, SelfLearningMemory

    config = MemoryConfig(
        database_url=f"file:{db}",
        cache_backend=cache,
        cache_path=str(cache_path) if cache_path else None,
        embedding_provider=embedder,
    )
    memory = SelfLearningMemory.from_config(config)
    memory.warm()
    return memory


def build(
    data_dir: Path, size: int, log: Any = print, embedder: str = DEFAULT_EMBEDDER
) -> dict[str, Any]:
    """Make sure ``scale-<size>.db`` (``scale-<embedder>-<size>.db``) holds ``size``
    episodes; return its marker."""
    db, marker = store_paths(data_dir, size, embedder)
    if marker.is_file():
        info = json.loads(marker.read_text())
        if info.get("workload_version") == WORKLOAD_VERSION and info["episodes"] >= size:
            if "index_build_seconds" not in info:
                info.update(_vector_index(db, embedder))
                marker.write_text(json.dumps(info, indent=2))
            return {**info, "built_now": 0}
    data_dir.mkdir(parents=True, exist_ok=True)
    if not db.exists():
        head = next((s for s in _built_sizes(data_dir, embedder) if s < size), None)
        if head is not None:
            src, _ = store_paths(data_dir, head, embedder)
            for f in _files(src):
                shutil.copy2(f, data_dir / f.name.replace(src.name, db.name))
            log(f"  head start: copied the {head:,}-episode store")
    # Building needs no hot cache: 'none' keeps LMDB syncs out of the build rate.
    memory = _open(db, "none", embedder=embedder)
    have = memory.count_episodes()
    t0, cpu0 = time.perf_counter(), time.process_time()
    built = 0

    from memory_core.bulk_import import DEFAULT_BATCH_SIZE

    bands: list[dict[str, Any]] = []  # the rate of each band of stored sizes
    per_band = max(1, size // BANDS // DEFAULT_BATCH_SIZE)  # batches
    mark = {"processed": 0, "seconds": 0.0, "cpu": cpu0}

    def progress(report: Any) -> None:
        if report.batches % per_band and have + report.processed < size:
            return
        done, seconds = report.processed - mark["processed"], report.seconds - mark["seconds"]
        cpu = time.process_time()
        band = {
            "from": have + mark["processed"],
            "to": have + report.processed,
            "rate_per_s": round(done / seconds, 1) if seconds > 0 else None,
            "cpu_rate_per_s": round(done / (cpu - mark["cpu"]), 1) if cpu > mark["cpu"] else None,
        }
        bands.append(band)
        mark.update(processed=report.processed, seconds=report.seconds, cpu=cpu)
        log(
            f"  {band['to']:,}/{size:,} episodes: this band {band['rate_per_s']}/s "
            f"({band['cpu_rate_per_s']}/CPU-s), since start {report.rate:.0f}/s"
        )

    try:
        episodes = (completed_episode(random.Random(SEED + i), i) for i in range(have, size))
        report = memory.import_episodes(episodes, progress=progress)
        built = report.imported
        cpu_s = time.process_time() - cpu0
        models = memory.storage.embedding_models()
        model_id = max(models, key=lambda i: i.count).model_id if models else None
        if report.problems:
            raise SystemExit(f"import refused {len(report.problems)}: {report.problems[:3]}")
        elapsed = time.perf_counter() - t0
        # The import built the vector graph in the background as it wrote: wait for the
        # round under way (and one more if the rows after it are past the threshold).
        t1, cpu1 = time.perf_counter(), time.process_time()
        memory.storage.warm(wait=True)
        catch_up_s, catch_up_cpu = time.perf_counter() - t1, time.process_time() - cpu1
    finally:
        memory.close()
    previous = json.loads(marker.read_text()) if marker.is_file() else {}
    info = {
        "episodes": size,
        "workload_version": WORKLOAD_VERSION,
        "built_now": built,
        "build_seconds_now": round(elapsed, 2),
        "build_rate_per_s": round(built / elapsed, 1)
        if built
        else previous.get("build_rate_per_s"),
        # Per CPU-second of the building process (all its threads): less sensitive to
        # other load on a shared machine than the wall-clock rate.
        "build_cpu_rate_per_s": round(built / cpu_s, 1)
        if built
        else previous.get("build_cpu_rate_per_s"),
        "build_embedder": model_id if built else previous.get("build_embedder"),
        # Waiting, after the import, for the graph the import built as it wrote.
        "graph_catch_up_seconds": round(catch_up_s, 1) if built else None,
        "graph_catch_up_cpu_seconds": round(catch_up_cpu, 1) if built else None,
        # Rate per tenth of the size: a rate that falls as the store grows shows
        # here (the overall rate hides it).
        "build_bands": bands if built else previous.get("build_bands", []),
        "disk_mb": disk_mb(*_files(db)),
    }
    info.update(_vector_index(db, embedder))
    marker.write_text(json.dumps(info, indent=2))
    return info


def _vector_index(db: Path, embedder: str = DEFAULT_EMBEDDER) -> dict[str, Any]:
    """Build (and persist beside the store) its vector graph now, so that opening the copy
    measured below loads it instead of building it. The time is that of an open that
    builds every search index (graph, lexical postings)."""
    t0 = time.perf_counter()
    memory = _open(
        db, "none", embedder=embedder
    )  # _open warms: loads every search index, starts the graph build
    try:
        memory.storage.warm(wait=True)  # the graph is built in the background: wait for it
    finally:
        memory.close()
    return {
        "index_build_seconds": round(time.perf_counter() - t0, 1),
        "index_disk_mb": disk_mb(*[f for f in _files(db) if "-ann-" in f.name]),
    }


def measure(
    data_dir: Path, size: int, rounds: int, queries: int, embedder: str = DEFAULT_EMBEDDER
) -> dict[str, Any]:
    """Run every operation against a copy of the store (fresh LMDB cache beside it)."""
    from memory_core import TaskOutcome

    src, marker = store_paths(data_dir, size, embedder)
    info = json.loads(marker.read_text())
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="scale-", dir=data_dir) as tmp:
        db = Path(tmp) / src.name
        for f in _files(src):
            shutil.copy2(f, Path(tmp) / f.name)
        t0 = time.perf_counter()
        memory = _open(db, "lmdb", Path(tmp) / "cache", embedder)
        open_s = time.perf_counter() - t0
        ops: dict[str, dict[str, float]] = {}

        t0 = time.perf_counter()
        memory.retrieve_relevant_context(query(rng))
        first_query_s = time.perf_counter() - t0

        tasks = [task(rng, size + i) for i in range(rounds)]
        eids: list[Any] = []
        ops["start_episode"] = summarize(
            timed(lambda i: eids.append(memory.start_episode(
                tasks[i].text, tasks[i].context, tasks[i].task_type)), rounds)
        )  # fmt: skip
        one = [steps_for(t, rng, count=1)[0] for t in tasks]
        ops["log_step"] = summarize(timed(lambda i: memory.log_step(eids[i], one[i]), rounds))
        batches = [steps_for(t, rng, start=2, count=100) for t in tasks]
        n_batch = max(5, rounds // 4)
        ops["log_steps (100 per call)"] = summarize(
            timed(lambda i: memory.log_steps(eids[i], batches[i]), n_batch), items_per_sample=100
        )
        # Complete short episodes (like the stored ones), not the 100-step ones above.
        short = [memory.start_episode(t.text, t.context, t.task_type) for t in tasks]
        for eid, t in zip(short, tasks, strict=True):
            memory.log_steps(eid, steps_for(t, rng))
        ops["complete_episode"] = summarize(
            timed(lambda i: memory.complete_episode(short[i], TaskOutcome.success("done")), rounds)
        )
        # The writes above queued their texts for background embedding: retrieval is
        # timed once they are searchable, not while they drain (with the transformer,
        # 5K+ step texts take seconds, and each query would wait for them: ``settle``).
        t0 = time.perf_counter()
        memory.flush()
        flush_s = time.perf_counter() - t0
        qs = [query(rng) for _ in range(queries)]
        ops["retrieve_context (top 5)"] = summarize(
            timed(lambda i: memory.retrieve_relevant_context(qs[i], limit=5), queries)
        )
        qqs = [query(rng) for _ in range(queries)]
        ops["query (episodes + patterns)"] = summarize(
            timed(lambda i: memory.query(qqs[i], limit=5), queries)
        )
        ops["retrieve_context (cache hit)"] = summarize(
            timed(lambda i: memory.retrieve_relevant_context(qs[0], limit=5), queries)
        )
        pqs = [query(rng) for _ in range(queries)]
        ops["retrieve_patterns (top 5)"] = summarize(
            timed(lambda i: memory.retrieve_relevant_patterns(pqs[i], limit=5), queries)
        )
        hot = short[0]
        memory.get_episode(hot)
        ops["get_episode (cache hit)"] = summarize(
            timed(lambda i: memory.get_episode(hot), rounds * 5)
        )
        vectors, dim = _vector_shape(memory)
        index_mb = _index_mb(memory)
        memory.close()
    rss = peak_rss_mb()  # before the reference matrix below
    scan = _numpy_scan(vectors, dim, queries)
    retrieval_p95 = ops["retrieve_context (top 5)"]["p95_ms"]
    return {
        "size": size,
        "open_ms": round(open_s * 1000, 1),
        "first_query_ms": round(first_query_s * 1000, 1),
        "writes_flush_ms": round(flush_s * 1000, 1),
        "peak_rss_mb": rss,
        "disk_mb": info["disk_mb"],
        "index_mb": index_mb,
        "vectors": vectors,
        "build_cpu_rate_per_s": info.get("build_cpu_rate_per_s"),
        "build_embedder": info.get("build_embedder"),
        "build_rate_per_s": info.get("build_rate_per_s"),
        "build_bands": info.get("build_bands", []),
        "index_build_seconds": info.get("index_build_seconds"),
        "graph_catch_up_seconds": info.get("graph_catch_up_seconds"),
        "index_disk_mb": info.get("index_disk_mb"),
        "numpy_scan": scan,
        "retrieval_over_scan_p95": round(retrieval_p95 / scan["p95_ms"], 2)
        if scan["p95_ms"]
        else None,
        "operations": ops,
    }


def _vector_shape(memory: Any) -> tuple[int, int]:
    """(vectors, dimension) of the store's model (the one with the most vectors)."""
    infos = memory.storage.embedding_models()
    info = max(infos, key=lambda i: i.count, default=None)
    return (info.count, info.dimension) if info else (0, 0)


def _index_mb(memory: Any) -> float:
    """In-process search indexes (vector matrices; lexical postings when reported)."""
    storage = memory.storage
    total = 0
    for name in ("_vectors", "_lexical"):
        index = getattr(storage, name, None)
        stats = getattr(index, "stats", None)
        if callable(stats):
            total += int(stats().get("bytes", 0))
    return round(total / 2**20, 1)


def _numpy_scan(n: int, dim: int, queries: int) -> dict[str, float]:
    """p50/p95 of an exact top-10 (``argpartition``) over an ``n`` × ``dim`` float32
    matrix with one BLAS thread: the reference the retrieval p95 is divided by."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    if n == 0:
        return {"p50_ms": 0.0, "p95_ms": 0.0}
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((n, dim), dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    qs = rng.standard_normal((queries, dim), dtype=np.float32)

    def top10(i: int) -> object:
        scores = matrix @ qs[i]
        best = np.argpartition(-scores, 10)[:10]
        return best[np.argsort(-scores[best])]

    with threadpool_limits(1, "blas"):
        stats = summarize(timed(top10, queries))
    return {"p50_ms": stats["p50_ms"], "p95_ms": stats["p95_ms"]}


def _build_rate(r: dict[str, Any]) -> str:
    """Wall-clock episodes/s, with the rate per CPU-second and the embedder when known."""
    wall, cpu = r.get("build_rate_per_s"), r.get("build_cpu_rate_per_s")
    if not wall:
        return "-"
    extra = [f"{cpu:,.0f}/CPU-s"] if cpu else []
    extra += [str(r["build_embedder"])] if r.get("build_embedder") else []
    bands = [b for b in r.get("build_bands") or [] if b.get("cpu_rate_per_s")]
    if len(bands) >= 2:  # the first and last band: a rate that decays with size shows
        first, last = bands[0], bands[-1]
        extra.append(
            f"{first['from']:,}-{first['to']:,}: {first['cpu_rate_per_s']:,.0f}/CPU-s, "
            f"{last['from']:,}-{last['to']:,}: {last['cpu_rate_per_s']:,.0f}/CPU-s"
        )
    return f"{wall:,.0f}" + (f" ({', '.join(extra)})" if extra else "")


def render(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        "# Scale benchmark",
        "",
        f"`{meta['command']}` on {meta['machine']['platform']}, {meta['machine']['cpus']} CPUs, "
        f"load average {meta['machine']['loadavg_1m']} at start ({meta['machine']['when']}). "
        f"Durable default: libSQL file + LMDB cache + {meta.get('embedder', DEFAULT_EMBEDDER)} "
        "embedder.",
        "",
        "| size | operation | p50 | p95 | p99 | throughput /s |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for r in results:
        for name, s in r["operations"].items():
            lines.append(
                f"| {r['size']:,} | {name} | {fmt_ms(s['p50_ms'])} | {fmt_ms(s['p95_ms'])} "
                f"| {fmt_ms(s['p99_ms'])} | {s['throughput_per_s']:,.0f} |"
            )
    lines += [
        "",
        "| size | build rate (episodes/s) | DB on disk | index in RAM | peak RSS (measuring) "
        "| open | first query | vectors | graph after the import + open that builds "
        "| graph on disk "
        "| numpy top-10 p95 | retrieval p95 / scan p95 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['size']:,} | {_build_rate(r)} | {r['disk_mb']} MiB "
            f"| {r['index_mb']} MiB | {r['peak_rss_mb']} MiB | {r['open_ms']:.0f} ms "
            f"| {r['first_query_ms']:.0f} ms | {r['vectors']:,} "
            f"| {r.get('graph_catch_up_seconds') or 0} + {r.get('index_build_seconds', '-')} s "
            f"| {r.get('index_disk_mb', '-')} MiB "
            f"| {fmt_ms(r['numpy_scan']['p95_ms'])} | {r['retrieval_over_scan_p95']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=None)
    p.add_argument("--full", action="store_true", help="add the 1M store")
    p.add_argument("--quick", action="store_true", help="sizes 200,1000 and few rounds (CI)")
    p.add_argument("--rounds", type=int, default=None, help="samples per write operation")
    p.add_argument("--queries", type=int, default=None, help="distinct queries per retrieval op")
    p.add_argument("--data-dir", type=Path, default=HERE / ".data")
    p.add_argument(
        "--embedder",
        default=DEFAULT_EMBEDDER,
        help="embedding provider of the stores and queries: local (default), transformer",
    )
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--measure-one", type=int, help=argparse.SUPPRESS)
    p.add_argument("--build-one", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    rounds = args.rounds or (20 if args.quick else 200)
    queries = args.queries or (20 if args.quick else 200)

    if args.build_one:
        print(
            json.dumps(
                build(
                    args.data_dir,
                    args.build_one,
                    log=lambda m: print(m, file=sys.stderr),
                    embedder=args.embedder,
                )
            )
        )
        return 0
    if args.measure_one:
        print(json.dumps(measure(args.data_dir, args.measure_one, rounds, queries, args.embedder)))
        return 0

    sizes = args.sizes or ([200, 1000] if args.quick else [1_000, 10_000, 100_000])
    if args.full and 1_000_000 not in sizes:
        sizes.append(1_000_000)
    meta = {"command": "python benchmarks/scale.py " + " ".join(argv or sys.argv[1:]),
            "machine": machine(), "rounds": rounds, "queries": queries,
            "embedder": args.embedder}  # fmt: skip
    results = []
    for size in sorted(sizes):
        print(f"size {size:,}: building (or reusing) the store", file=sys.stderr)
        base = [sys.executable, str(Path(__file__).resolve()), "--data-dir", str(args.data_dir),
                "--rounds", str(rounds), "--queries", str(queries),
                "--embedder", args.embedder]  # fmt: skip
        built = subprocess.run([*base, "--build-one", str(size)], check=True, text=True,
                               stdout=subprocess.PIPE)  # fmt: skip
        info = json.loads(built.stdout)
        if info["built_now"]:
            print(f"  built {info['built_now']:,} episodes at {info['build_rate_per_s']}/s "
                  f"({info['build_cpu_rate_per_s']}/CPU-s)",
                  file=sys.stderr)  # fmt: skip
        print(f"size {size:,}: measuring", file=sys.stderr)
        out = subprocess.run([*base, "--measure-one", str(size)], check=True, text=True,
                             stdout=subprocess.PIPE)  # fmt: skip
        results.append(json.loads(out.stdout))
    table = render(results, meta)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.md").write_text(table)
    (args.out / "scale.json").write_text(json.dumps({**meta, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
