"""Our numbers on the three peer lines of issue 8, measured over MCP stdio like the peers:

1. cold start: spawn ``memory-mcp`` and complete ``initialize`` (median of N spawns, an
   empty database each time; the legacy handshake, as the peers were measured);
2. single writes/s: ``add_episode_step`` one call at a time through one stdio session;
3. paraphrase search: 1,000 short task notes stored as episodes, then each note's
   paraphrase (different words, see ``benchlib.paraphrase``) asked with ``query_memory``
   (limit 5): recall@5 (the note among the 5 episodes returned) and p50/p95 latency;
   the same queries in-process with ``retrieve_relevant_context`` for comparison.

Peer figures (from the issue, same machine class): cold start 0.26 s / 7.5 s / 9.2 s,
writes 440/s / 4.7/s / 54/s, recall@5 0.83 / 0.785 / 0.995 (MCP reference memory server,
basic-memory, mcp-memory-service)::

    uv run python benchmarks/peers.py             # 5 spawns, 500 writes, 1,000 notes
    uv run python benchmarks/peers.py --quick     # CI: 2 spawns, 30 writes, 100 notes
    uv run python benchmarks/peers.py --embedder local   # the light static model instead

``--embedder`` (default ``transformer``, what ``auto`` picks in the server's install) is
the provider of the servers, of the note store and of the in-process search.

Writes ``benchmarks/results/peers.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import anyio
from benchlib.paraphrase import Note, notes, word_overlap
from benchlib.server import stdio_params
from benchlib.stats import fmt_ms, machine, summarize
from mcp import Client

HERE = Path(__file__).resolve().parent
SEED = 8
NOTE_NS = UUID("1b4e28ba-2fa1-4d2b-9c3e-5a6f7b8c9d0e")
EMBEDDER = "transformer"
"""Set from ``--embedder``: every server, store and in-process memory of the run uses it."""
PEERS = {
    "MCP reference memory server": {"cold_start_s": 0.26, "writes_per_s": 440, "recall_at_5": 0.83},
    "basic-memory": {"cold_start_s": 7.5, "writes_per_s": 4.7, "recall_at_5": 0.785},
    "mcp-memory-service": {"cold_start_s": 9.2, "writes_per_s": 54, "recall_at_5": 0.995},
}


async def cold_start(spawns: int) -> dict[str, Any]:
    """Seconds from spawn to the initialize result, each on a new empty database.

    One spawn first, not counted, fills the bytecode cache (``benchlib.server.PYCACHE``):
    the numbers are those of an installed server, not of its very first run."""
    samples = []
    for _ in range(spawns + 1):
        with tempfile.TemporaryDirectory(prefix="peers-cold-") as tmp:
            t0 = time.perf_counter()
            async with Client(
                stdio_params(Path(tmp) / "memory.db", MEMORY_EMBEDDING_PROVIDER=EMBEDDER),
                mode="legacy",
            ):
                samples.append(time.perf_counter() - t0)
    first, samples = samples[0], samples[1:]
    return {"spawns": spawns, "median_s": round(statistics.median(samples), 3),
            "first_spawn_s": round(first, 3),
            "min_s": round(min(samples), 3), "max_s": round(max(samples), 3)}  # fmt: skip


async def single_writes(writes: int) -> dict[str, Any]:
    """``add_episode_step`` one at a time; a new episode every 50 steps (not timed)."""
    with tempfile.TemporaryDirectory(prefix="peers-writes-") as tmp:
        async with Client(
            stdio_params(Path(tmp) / "memory.db", MEMORY_EMBEDDING_PROVIDER=EMBEDDER)
        ) as client:
            await client.call_tool("query_memory", {"query": "warm up"})
            samples = []
            eid = None
            for i in range(writes):
                if i % 50 == 0:
                    r = await client.call_tool(
                        "create_episode", {"task_description": f"note batch {i}"}
                    )
                    eid = r.structured_content["episode_id"]  # type: ignore[index]
                args = {
                    "episode_id": eid,
                    "tool": "note",
                    "action": f"write note {i}",
                    "result": "ok",
                }
                t0 = time.perf_counter()
                r = await client.call_tool("add_episode_step", args)
                samples.append(time.perf_counter() - t0)
                if r.is_error:
                    raise RuntimeError(f"add_episode_step failed: {r.content}")
    s = summarize(samples)
    return {"writes": writes, "writes_per_s": s["throughput_per_s"], "p50_ms": s["p50_ms"],
            "p95_ms": s["p95_ms"]}  # fmt: skip


def note_store(data_dir: Path, items: list[Note]) -> Path:
    """A store with one finished episode per note (built once, reused from ``data_dir``)."""
    from memory_core import Episode, MemoryConfig, SelfLearningMemory, TaskOutcome

    db = data_dir / f"peers-{SEED}-{len(items)}-{EMBEDDER}.db"
    done = db.with_suffix(".done")
    if done.exists():
        return db
    data_dir.mkdir(parents=True, exist_ok=True)
    config = MemoryConfig(
        database_url=f"file:{db}", cache_backend="none", embedding_provider=EMBEDDER
    )
    with SelfLearningMemory.from_config(config) as memory:
        memory.import_episodes(  # batched: one embed call and one transaction per batch
            Episode(
                id=uuid5(NOTE_NS, note.text),
                task_description=note.text,
                outcome=TaskOutcome.success(),
            )
            for note in items
        )
    done.write_text("ok")
    return db


async def paraphrase_search(db: Path, items: list[Note]) -> dict[str, Any]:
    """recall@5 and latency of ``query_memory`` for every paraphrase, over stdio."""
    with tempfile.TemporaryDirectory(prefix="peers-search-") as tmp:
        for f in db.parent.glob(db.name + "*"):
            shutil.copy2(f, Path(tmp) / f.name)
        copy = Path(tmp) / db.name
        async with Client(stdio_params(copy, MEMORY_EMBEDDING_PROVIDER=EMBEDDER)) as client:
            await client.call_tool("query_memory", {"query": "warm up"})
            hits, samples = 0, []
            for note in items:
                t0 = time.perf_counter()
                r = await client.call_tool("query_memory", {"query": note.paraphrase, "limit": 5})
                samples.append(time.perf_counter() - t0)
                found = [e["episode_id"] for e in r.structured_content["episodes"]]  # type: ignore[index]
                hits += str(uuid5(NOTE_NS, note.text)) in found
    s = summarize(samples)
    return {"queries": len(items), "recall_at_5": round(hits / len(items), 3),
            "p50_ms": s["p50_ms"], "p95_ms": s["p95_ms"]}  # fmt: skip


def inprocess_search(db: Path, items: list[Note]) -> dict[str, Any]:
    """The same queries through the library (no MCP): the cost of retrieval alone."""
    from memory_core import MemoryConfig, SelfLearningMemory

    config = MemoryConfig(
        database_url=f"file:{db}", cache_backend="none", embedding_provider=EMBEDDER
    )
    with SelfLearningMemory.from_config(config) as memory:
        memory.warm()
        hits, samples = 0, []
        for note in items:
            t0 = time.perf_counter()
            found = memory.retrieve_relevant_context(note.paraphrase, limit=5)
            samples.append(time.perf_counter() - t0)
            hits += uuid5(NOTE_NS, note.text) in {r.episode.id for r in found}
    s = summarize(samples)
    return {
        "recall_at_5": round(hits / len(items), 3),
        "p50_ms": s["p50_ms"],
        "p95_ms": s["p95_ms"],
    }


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "# Peers: our numbers on the same three lines",
        "",
        f"`{r['command']}` on {m['cpus']} CPUs, load average {m['loadavg_1m']} at start "
        f"({m['when']}). Peer numbers are from issue 8 (measured there, not here).",
        "",
        "| server | cold start to initialize | single writes/s over MCP | paraphrase recall@5 |",
        "|---|---:|---:|---:|",
        f"| **memory-mcp (ours)** | {r['cold_start']['median_s']} s (median of "
        f"{r['cold_start']['spawns']}) | {r['writes']['writes_per_s']:,.0f} | "
        f"{r['search']['recall_at_5']} |",
    ]
    for name, p in PEERS.items():
        lines.append(
            f"| {name} | {p['cold_start_s']} s | {p['writes_per_s']} | {p['recall_at_5']} |"
        )
    s, w, ip = r["search"], r["writes"], r["search_inprocess"]
    lines += [
        "",
        f"- single write (`add_episode_step`): p50 {fmt_ms(w['p50_ms'])}, p95 {fmt_ms(w['p95_ms'])}",
        f"- paraphrase search over MCP (`query_memory`, {s['queries']:,} queries over "
        f"{s['queries']:,} stored notes): p50 {fmt_ms(s['p50_ms'])}, p95 {fmt_ms(s['p95_ms'])}",
        f"- the same in-process (`retrieve_relevant_context`): recall@5 {ip['recall_at_5']}, "
        f"p50 {fmt_ms(ip['p50_ms'])}, p95 {fmt_ms(ip['p95_ms'])}",
        f"- paraphrases share {r['mean_word_overlap']:.0%} of their content words with the note "
        "on average (the generator swaps every slot's wording and the sentence form)",
        f"- milder paraphrases (half the slots reworded, {r['mild_word_overlap']:.0%} word "
        f"overlap), in-process: recall@5 {r['search_mild']['recall_at_5']}",
        f"- control, the stored text itself as the query (first 200 notes): recall@5 "
        f"{r['search_verbatim']['recall_at_5']}",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="2 spawns, 30 writes, 100 notes (CI)")
    p.add_argument("--spawns", type=int, default=None)
    p.add_argument("--writes", type=int, default=None)
    p.add_argument("--notes", type=int, default=None)
    p.add_argument("--data-dir", type=Path, default=HERE / ".data")
    p.add_argument("--embedder", default="transformer", help="transformer (default) or local")
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)
    global EMBEDDER
    EMBEDDER = args.embedder
    spawns = args.spawns or (2 if args.quick else 5)
    writes = args.writes or (30 if args.quick else 500)
    count = args.notes or (100 if args.quick else 1_000)
    items = notes(count, SEED)

    result: dict[str, Any] = {
        "command": "python benchmarks/peers.py " + " ".join(argv or sys.argv[1:]),
        "machine": machine(),
        "peers": PEERS,
    }
    print(f"cold start x{spawns} ...", file=sys.stderr)
    result["cold_start"] = anyio.run(cold_start, spawns)
    print(f"{writes} single writes ...", file=sys.stderr)
    result["writes"] = anyio.run(single_writes, writes)
    print(f"{len(items)} notes: store and search ...", file=sys.stderr)
    db = note_store(args.data_dir, items)
    result["search"] = anyio.run(paraphrase_search, db, items)
    result["search_inprocess"] = inprocess_search(db, items)
    result["mean_word_overlap"] = round(
        statistics.mean(word_overlap(n.text, n.paraphrase) for n in items), 3
    )
    # Milder paraphrases (half the slots reworded), same stored notes: how recall degrades.
    mild = notes(count, SEED, reword=0.5)
    assert [n.text for n in mild] == [n.text for n in items]
    result["search_mild"] = inprocess_search(db, mild)
    # Control: the stored text itself must be found, else the numbers above mean nothing.
    result["search_verbatim"] = inprocess_search(db, [Note(n.text, n.text) for n in items[:200]])
    result["mild_word_overlap"] = round(
        statistics.mean(word_overlap(n.text, n.paraphrase) for n in mild), 3
    )
    table = render(result)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "peers.md").write_text(table)
    (args.out / "peers.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
