"""Our numbers on the three peer lines of issue 8, measured over MCP stdio like the peers:

1. cold start: spawn ``memory-mcp`` and complete ``initialize`` (median of N spawns, an
   empty database each time; the legacy handshake, as the peers were measured);
2. single writes/s: ``add_episode_step`` one call at a time through one stdio session;
3. paraphrase search: 10,000 short task notes stored as episodes, then the paraphrases
   (different words, see ``benchlib.paraphrase``) of ``--queries`` of them asked with
   ``query_memory`` (limit 5): recall@5 (the note among the 5 episodes returned) and
   p50/p95 latency; the same queries in-process with ``retrieve_relevant_context``;
4. unrelated queries (``benchlib.unrelated``: cooking, travel, gardening, ...) over the
   same store with ``query_memory``: the share that returns no episode (the relevance
   floor, ``MEMORY_MIN_RELEVANCE``, at its default), and in-process without a floor the
   recall and empty share each floor of ``FLOORS`` would give (how the default was
   chosen);
5. notes with an identifier (``benchlib.paraphrase.id_notes``: a ticket key on a line of
   its own, half the slots reworded), asked over MCP with paraphrases that keep the
   identifier and that drop it (issue 14's two recall lines); lines 3 and 5 are also
   measured at each of ``--scale-sizes`` (default 1,000) stored notes, since recall must
   not fall by more than 0.02 from 1K to 10K.

Lines 3-5 run once per embedder (``--embedders``, default the bundled static model
``local`` and the ``transformer``).

Peer figures (from the issue, same machine class): cold start 0.26 s / 7.5 s / 9.2 s,
writes 440/s / 4.7/s / 54/s, recall@5 0.83 / 0.785 / 0.995 (MCP reference memory server,
basic-memory, mcp-memory-service)::

    uv run python benchmarks/peers.py             # 5 spawns, 500 writes, 10,000 notes
    uv run python benchmarks/peers.py --quick     # CI: 2 spawns, 30 writes, 100 notes
    uv run python benchmarks/peers.py --seed 21   # held-out notes and queries

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
from benchlib.paraphrase import Note, id_notes, notes, word_overlap
from benchlib.server import stdio_params
from benchlib.stats import fmt_ms, machine, summarize
from benchlib.unrelated import unrelated_queries
from mcp import Client

HERE = Path(__file__).resolve().parent
SEED = 8
FLOORS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
UNRELATED = 200
NOTE_NS = UUID("1b4e28ba-2fa1-4d2b-9c3e-5a6f7b8c9d0e")
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
            async with Client(stdio_params(Path(tmp) / "memory.db"), mode="legacy"):
                samples.append(time.perf_counter() - t0)
    first, samples = samples[0], samples[1:]
    return {"spawns": spawns, "median_s": round(statistics.median(samples), 3),
            "first_spawn_s": round(first, 3),
            "min_s": round(min(samples), 3), "max_s": round(max(samples), 3)}  # fmt: skip


async def single_writes(writes: int) -> dict[str, Any]:
    """``add_episode_step`` one at a time; a new episode every 50 steps (not timed)."""
    with tempfile.TemporaryDirectory(prefix="peers-writes-") as tmp:
        async with Client(stdio_params(Path(tmp) / "memory.db")) as client:
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


def note_store(data_dir: Path, items: list[Note], embedder: str, kind: str = "") -> Path:
    """A store with one finished episode per note (built once, reused from ``data_dir``)."""
    from memory_core import Episode, MemoryConfig, SelfLearningMemory, TaskOutcome

    db = data_dir / f"peers-{kind}{SEED}-{len(items)}-{embedder}.db"
    done = db.with_suffix(".done")
    if done.exists():
        return db
    data_dir.mkdir(parents=True, exist_ok=True)
    config = MemoryConfig(
        database_url=f"file:{db}", cache_backend="none", embedding_provider=embedder
    )
    with SelfLearningMemory.from_config(config) as memory:
        memory.import_episodes(
            Episode(
                id=uuid5(NOTE_NS, note.text),
                task_description=note.text,
                outcome=TaskOutcome.success(),
            )
            for note in items
        )
    done.write_text("ok")
    return db


def asked(items: list[Note], queries: int) -> list[Note]:
    """``queries`` notes spread evenly over the store."""
    step = max(1, len(items) // queries)
    return items[::step][:queries]


async def mcp_search(
    db: Path, items: list[Note], embedder: str, unrelated: int = UNRELATED
) -> dict[str, Any]:
    """recall@5 and latency of ``query_memory`` for every paraphrase, then the share of
    unrelated queries that return no episode, over stdio, at the default floor."""
    with tempfile.TemporaryDirectory(prefix="peers-search-") as tmp:
        for f in db.parent.glob(db.name + "*"):
            shutil.copy2(f, Path(tmp) / f.name)
        copy = Path(tmp) / db.name
        async with Client(stdio_params(copy, MEMORY_EMBEDDING_PROVIDER=embedder)) as client:
            await client.call_tool("query_memory", {"query": "warm up"})
            hits, samples = 0, []
            for note in items:
                t0 = time.perf_counter()
                r = await client.call_tool("query_memory", {"query": note.paraphrase, "limit": 5})
                samples.append(time.perf_counter() - t0)
                found = [e["episode_id"] for e in r.structured_content["episodes"]]  # type: ignore[index]
                hits += str(uuid5(NOTE_NS, note.text)) in found
            empty = 0
            for q in unrelated_queries(unrelated, SEED):
                r = await client.call_tool("query_memory", {"query": q, "limit": 5})
                empty += not r.structured_content["episodes"]  # type: ignore[index]
    s = summarize(samples)
    return {"queries": len(items), "recall_at_5": round(hits / len(items), 3),
            "p50_ms": s["p50_ms"], "p95_ms": s["p95_ms"], "unrelated_queries": unrelated,
            "unrelated_empty": round(empty / unrelated, 3) if unrelated else None}  # fmt: skip


def inprocess_search(
    db: Path, items: list[Note], embedder: str, floor: float | None = None
) -> dict[str, Any]:
    """The same queries through the library (no MCP): the cost of retrieval alone.

    With ``floor`` 0, also the wanted note's relevance per query (-1: not in the top 5)
    and the best relevance per unrelated query, so each floor can be judged."""
    from memory_core import MemoryConfig, SelfLearningMemory

    extra = {} if floor is None else {"min_relevance": floor}
    config = MemoryConfig(
        database_url=f"file:{db}", cache_backend="none", embedding_provider=embedder, **extra
    )
    with SelfLearningMemory.from_config(config) as memory:
        memory.warm()
        seen, samples = [], []
        for note in items:
            t0 = time.perf_counter()
            found = memory.retrieve_relevant_context(note.paraphrase, limit=5)
            samples.append(time.perf_counter() - t0)
            want = uuid5(NOTE_NS, note.text)
            seen.append(next((r.relevance for r in found if r.episode.id == want), -1.0))
        tops = [
            max((r.relevance for r in memory.retrieve_relevant_context(q, limit=5)), default=-1.0)
            for q in unrelated_queries(UNRELATED, SEED)
        ]
    s = summarize(samples)
    out: dict[str, Any] = {
        "recall_at_5": round(sum(r >= 0 for r in seen) / len(items), 3),
        "p50_ms": s["p50_ms"],
        "p95_ms": s["p95_ms"],
        "unrelated_empty": round(sum(t < 0 for t in tops) / len(tops), 3),
    }
    if floor == 0:
        out["relevance_found"] = [round(r, 4) for r in seen]
        out["relevance_unrelated_top"] = [round(t, 4) for t in tops]
    return out


def floor_sweep(hard: dict[str, Any], mild: dict[str, Any]) -> dict[str, dict[str, float]]:
    """What each floor would give: recall@5 kept (hard and mild paraphrases) and the
    share of unrelated queries left with no episode."""
    out = {}
    for f in FLOORS:
        n = len(hard["relevance_found"])
        out[f"{f:.2f}"] = {
            "recall_at_5": round(sum(r >= f for r in hard["relevance_found"]) / n, 3),
            "mild_recall_at_5": round(sum(r >= f for r in mild["relevance_found"]) / n, 3),
            "unrelated_empty": round(
                sum(t < f for t in hard["relevance_unrelated_top"]) / UNRELATED, 3
            ),
        }
    return out


def embedder_lines(
    data_dir: Path, items: list[Note], queries: int, embedder: str
) -> dict[str, Any]:
    """Lines 3-4 for one embedder."""
    print(f"{embedder}: {len(items):,} notes, store ...", file=sys.stderr)
    t0 = time.perf_counter()
    db = note_store(data_dir, items, embedder)
    built = time.perf_counter() - t0
    chosen = asked(items, queries)
    print(f"{embedder}: {len(chosen)} paraphrases + {UNRELATED} unrelated over MCP ...",
          file=sys.stderr)  # fmt: skip
    out: dict[str, Any] = {"store_build_s": round(built, 1)}
    out["search"] = anyio.run(mcp_search, db, chosen, embedder)
    out["search_inprocess"] = inprocess_search(db, chosen, embedder)
    # Milder paraphrases (half the slots reworded), same stored notes: how recall degrades.
    mild = asked(notes(len(items), SEED, reword=0.5), queries)
    assert [n.text for n in mild] == [n.text for n in chosen]
    out["search_mild"] = inprocess_search(db, mild, embedder)
    # Control: the stored text itself must be found, else the numbers above mean nothing.
    out["search_verbatim"] = inprocess_search(db, [Note(n.text, n.text) for n in chosen[:200]],
                                              embedder)  # fmt: skip
    hard0 = inprocess_search(db, chosen, embedder, floor=0.0)
    mild0 = inprocess_search(db, mild, embedder, floor=0.0)
    out["no_floor"] = {"recall_at_5": hard0["recall_at_5"],
                       "mild_recall_at_5": mild0["recall_at_5"]}  # fmt: skip
    out["floor_sweep"] = floor_sweep(hard0, mild0)
    out["mild_word_overlap"] = round(
        statistics.mean(word_overlap(n.text, n.paraphrase) for n in mild), 3
    )
    out.update(identifier_lines(data_dir, len(items), queries, embedder))
    return out


def identifier_lines(data_dir: Path, count: int, queries: int, embedder: str) -> dict[str, Any]:
    """Line 5: notes with an identifier, paraphrases that keep it and that drop it (MCP)."""
    items = id_notes(count, SEED)
    print(f"{embedder}: {count:,} notes with identifiers, store ...", file=sys.stderr)
    db = note_store(data_dir, [Note(n.text, n.paraphrase) for n in items], embedder, "id-")
    chosen = asked(items, queries)  # type: ignore[arg-type]
    kept = [Note(n.text, n.paraphrase) for n in chosen]
    dropped = [Note(n.text, n.dropped) for n in chosen]
    return {
        "id_kept": anyio.run(mcp_search, db, kept, embedder),
        "id_dropped": anyio.run(mcp_search, db, dropped, embedder, 0),
    }


def size_lines(data_dir: Path, count: int, queries: int, embedder: str) -> dict[str, Any]:
    """Lines 3 and 5 at another store size (recall as the store grows)."""
    items = notes(count, SEED)
    db = note_store(data_dir, items, embedder)
    chosen = asked(items, queries)
    mild = asked(notes(count, SEED, reword=0.5), queries)
    return {
        "search": anyio.run(mcp_search, db, chosen, embedder),
        "search_mild": anyio.run(mcp_search, db, mild, embedder, 0),
        **identifier_lines(data_dir, count, queries, embedder),
    }


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    first = r["by_embedder"][r["embedders"][0]]
    lines = [
        "# Peers: our numbers on the same lines",
        "",
        f"`{r['command']}` on {m['cpus']} CPUs, load average {m['loadavg_1m']} at start "
        f"({m['when']}). Peer numbers are from issue 8 (measured there, not here).",
        "",
        "| server | cold start to initialize | single writes/s over MCP | paraphrase recall@5 |",
        "|---|---:|---:|---:|",
        f"| **memory-mcp (ours, {r['embedders'][0]})** | {r['cold_start']['median_s']} s "
        f"(median of {r['cold_start']['spawns']}) | {r['writes']['writes_per_s']:,.0f} | "
        f"{first['search']['recall_at_5']} |",
    ]
    for name, p in PEERS.items():
        lines.append(
            f"| {name} | {p['cold_start_s']} s | {p['writes_per_s']} | {p['recall_at_5']} |"
        )
    w = r["writes"]
    lines += [
        "",
        f"- single write (`add_episode_step`): p50 {fmt_ms(w['p50_ms'])}, p95 {fmt_ms(w['p95_ms'])}",
        f"- paraphrases share {r['mean_word_overlap']:.0%} of their content words with the note "
        "on average (the generator swaps every slot's wording and the sentence form); milder "
        f"ones (half the slots reworded) {first['mild_word_overlap']:.0%}",
        "",
        f"Search over {r['notes']:,} stored notes, {first['search']['queries']} paraphrase "
        f"queries and {UNRELATED} unrelated ones (other domains entirely), default floor "
        f"MEMORY_MIN_RELEVANCE={r['min_relevance']}:",
        "",
        "| embedder | recall@5 over MCP | no floor | mild, in-process | no floor | unrelated: "
        "no episode (MCP) | query_memory p50 / p95 | in-process p50 | verbatim control |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in r["embedders"]:
        e = r["by_embedder"][name]
        s, ip = e["search"], e["search_inprocess"]
        lines.append(
            f"| {name} | {s['recall_at_5']} | {e['no_floor']['recall_at_5']} | "
            f"{e['search_mild']['recall_at_5']} | {e['no_floor']['mild_recall_at_5']} | "
            f"{s['unrelated_empty']:.0%} | {fmt_ms(s['p50_ms'])} / {fmt_ms(s['p95_ms'])} | "
            f"{fmt_ms(ip['p50_ms'])} | {e['search_verbatim']['recall_at_5']} |"
        )
    lines += ["", "Recall@5 over MCP by store size (hard: every slot reworded; mild: half, "
              f"in-process at {r['notes']:,}; "
              "identifier: notes with a ticket key, paraphrases half reworded that keep it "
              "or drop it):", "",
              "| embedder | stored notes | hard | mild | identifier kept | identifier dropped "
              "| unrelated: no episode |", "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name in r["embedders"]:
        e = r["by_embedder"][name]
        sized = {**e.get("by_size", {}), str(r["notes"]): e}
        for n, v in sorted(sized.items(), key=lambda kv: int(kv[0])):
            mild = v["search_mild"]["recall_at_5"]
            lines.append(
                f"| {name} | {int(n):,} | {v['search']['recall_at_5']} | {mild} | "
                f"{v['id_kept']['recall_at_5']} | {v['id_dropped']['recall_at_5']} | "
                f"{v['search']['unrelated_empty']:.0%} |"
            )
    lines += ["", "Floor sweep (in-process, no floor, each floor applied to the relevances seen):",
              "", "| embedder | floor | recall@5 | mild recall@5 | unrelated: no episode |",
              "|---|---:|---:|---:|---:|"]  # fmt: skip
    for name in r["embedders"]:
        for f, v in r["by_embedder"][name]["floor_sweep"].items():
            lines.append(
                f"| {name} | {f} | {v['recall_at_5']} | {v['mild_recall_at_5']} | "
                f"{v['unrelated_empty']:.0%} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    global SEED
    from memory_core import MemoryConfig

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="2 spawns, 30 writes, 100 notes (CI)")
    p.add_argument("--spawns", type=int, default=None)
    p.add_argument("--writes", type=int, default=None)
    p.add_argument("--notes", type=int, default=None)
    p.add_argument("--queries", type=int, default=None, help="paraphrase queries (default 500)")
    p.add_argument("--embedders", nargs="+", default=None, help="default: local transformer")
    p.add_argument("--scale-sizes", type=int, nargs="*", default=None,
                   help="other store sizes for the recall lines (default 1000; none with --quick)")  # fmt: skip
    p.add_argument("--seed", type=int, default=SEED,
                   help=f"generator seed of notes and queries (default {SEED}; others are held out)")  # fmt: skip
    p.add_argument("--data-dir", type=Path, default=HERE / ".data")
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)
    SEED = args.seed  # every generator call and store name below reads it
    spawns = args.spawns or (2 if args.quick else 5)
    writes = args.writes or (30 if args.quick else 500)
    count = args.notes or (100 if args.quick else 10_000)
    queries = args.queries or (100 if args.quick else 500)
    embedders = args.embedders or (["local"] if args.quick else ["local", "transformer"])
    items = notes(count, SEED)

    result: dict[str, Any] = {
        "command": "python benchmarks/peers.py " + " ".join(argv or sys.argv[1:]),
        "machine": machine(),
        "peers": PEERS,
        "notes": count,
        "seed": SEED,
        "embedders": embedders,
        "min_relevance": MemoryConfig().min_relevance,
    }
    print(f"cold start x{spawns} ...", file=sys.stderr)
    result["cold_start"] = anyio.run(cold_start, spawns)
    print(f"{writes} single writes ...", file=sys.stderr)
    result["writes"] = anyio.run(single_writes, writes)
    result["by_embedder"] = {e: embedder_lines(args.data_dir, items, queries, e) for e in embedders}
    sizes = args.scale_sizes if args.scale_sizes is not None else ([] if args.quick else [1000])
    for e in embedders:
        result["by_embedder"][e]["by_size"] = {
            str(n): size_lines(args.data_dir, n, queries, e) for n in sizes if n != count
        }
    result["mean_word_overlap"] = round(
        statistics.mean(word_overlap(n.text, n.paraphrase) for n in asked(items, queries)), 3
    )
    table = render(result)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "peers.md").write_text(table)
    (args.out / "peers.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
