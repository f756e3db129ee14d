"""Dashboard page loads: ``memory ui`` as a real subprocess over a 10K-episode store.

Reuses ``scale.py``'s store (``benchmarks/.data/scale-<size>.db``, built once with the
public import path), serves a throwaway copy of it with ``memory ui --port 0`` and times
whole HTTP requests (server render + transfer, over loopback) for every page::

    uv run python benchmarks/ui_pages.py                  # 10K episodes, 30 loads a page
    uv run python benchmarks/ui_pages.py --quick          # 200 episodes (CI smoke)

Target: p95 ≤ 200 ms a page at 10K. A reference measured in the same run (the static
stylesheet: no store access) shows how much of each time is the machine, not the page.
Search uses a new query each time (the retrieval cache misses); Learning is timed cold
(first load, computing the per-day counts) and warm (unchanged store: reused).
Writes ``benchmarks/results/ui_pages.md`` and ``ui_pages.json`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from benchlib.stats import machine, summarize
from benchlib.workload import query
from scale import _files, build, store_paths

HERE = Path(__file__).resolve().parent
_SERVING = re.compile(r"memory ui: serving (http://\S+/)")


def _get(url: str) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{url}: HTTP {response.status}")
    return time.perf_counter() - t0


def _serve(db: Path, cache: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "MEMORY_CACHE_PATH": str(cache), "MEMORY_EMBEDDING_PROVIDER": "local"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "memory_cli", "--database-url", f"file:{db}", "ui", "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        match = _SERVING.search(line)
        if match:
            return proc, match.group(1).rstrip("/")
    raise RuntimeError("memory ui did not start")


def _ids(db: Path) -> list[str]:
    from memory_core import MemoryConfig, SelfLearningMemory

    memory = SelfLearningMemory.from_config(
        MemoryConfig(database_url=f"file:{db}", cache_backend="none", embedding_provider="none")
    )
    try:
        return [str(s.id) for s in memory.list_episodes(None, 1000).items]
    finally:
        memory.close()


def measure(data_dir: Path, size: int, loads: int) -> dict[str, Any]:
    src, _ = store_paths(data_dir, size)
    rng = random.Random(18)
    with tempfile.TemporaryDirectory(prefix="ui-", dir=data_dir) as tmp:
        db = Path(tmp) / src.name
        for f in _files(src):
            shutil.copy2(f, Path(tmp) / f.name)
        ids = _ids(db)
        proc, url = _serve(db, Path(tmp) / "cache")
        try:
            pages: dict[str, Any] = {}

            def run(name: str, path_for: Any, n: int = loads) -> None:
                pages[name] = summarize([_get(url + path_for(i)) for i in range(n)])

            _get(url + "/")  # the first request pays for imports in the server
            pages["learning (cold, first load)"] = summarize([_get(url + "/learning")])
            run("reference: /static/style.css", lambda i: "/static/style.css")
            run("home /", lambda i: "/")
            run(
                "search /search?q=… (new query each)",
                lambda i: "/search?" + urllib.parse.urlencode({"q": query(rng)}),
            )
            run(
                "search with filters (outcome, since)",
                lambda i: (
                    "/search?"
                    + urllib.parse.urlencode(
                        {"q": query(rng), "outcome": "success", "since": "2025-01-02"}
                    )
                ),
            )
            run("episode /episodes/ID", lambda i: f"/episodes/{ids[i % len(ids)]}")
            run("patterns /patterns", lambda i: "/patterns")
            run("learning /learning (warm)", lambda i: "/learning")
            run("health /health", lambda i: "/health")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return {"size": size, "loads_per_page": loads, "pages": pages}


def report(result: dict[str, Any], command: str) -> str:
    m = machine()
    lines = [
        "# memory ui: page load times",
        "",
        f"`{command}` on {m['platform']}, {m['cpus']} CPUs, load average {m['loadavg_1m']}"
        f" at start ({m['when']}).",
        f"{result['size']:,} episodes; {result['loads_per_page']} loads a page; whole HTTP "
        "request over loopback (server render + transfer). Target: p95 ≤ 200 ms.",
        "",
        "| page | n | p50 | p95 | p99 | × reference p50 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    ref = result["pages"]["reference: /static/style.css"]["p50_ms"] or 1.0
    for name, s in result["pages"].items():
        lines.append(
            f"| {name} | {s['n']} | {s['p50_ms']:.1f} ms | {s['p95_ms']:.1f} ms | "
            f"{s['p99_ms']:.1f} ms | {s['p50_ms'] / ref:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--loads", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="200 episodes, 5 loads")
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    size, loads = (200, 5) if args.quick else (args.size, args.loads)
    build(args.data_dir, size, log=lambda m: print(m, file=sys.stderr))
    result = measure(args.data_dir, size, loads)
    command = "uv run python benchmarks/ui_pages.py" + (" --quick" if args.quick else "")
    text = report(result, command)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ui_pages.md").write_text(text, encoding="utf-8")
    (args.out / "ui_pages.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
