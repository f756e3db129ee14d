"""Where does libSQL's native vector index beat an in-process numpy scan?

Measures, on the same N random 384-d unit vectors in a real libSQL file:

* numpy: exact top-10 over an in-memory float32 matrix (what LibSQLStorage does);
* sql-exact: ``ORDER BY vector_distance_cos(...) LIMIT 10`` (exact, in the engine);
* diskann: ``vector_top_k`` over a ``libsql_vector_idx`` index, plus its recall@10
  against the exact answer, and the per-insert cost of maintaining that index.

    uv run python benchmarks/storage/vector_crossover.py 1000 10000
    uv run python benchmarks/storage/vector_crossover.py --no-ann 100000  # DiskANN builds slowly
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import libsql
import numpy as np

DIM = 384


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"median {statistics.median(samples) * 1e3:8.3f} ms  p95 {p95 * 1e3:8.3f} ms"


def measure(n: int, queries: int = 50, ann: bool = True) -> None:
    rng = np.random.default_rng(n)
    data = rng.standard_normal((n, DIM)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    qs = rng.standard_normal((queries, DIM)).astype(np.float32)
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    with tempfile.TemporaryDirectory() as tmp:
        conn = libsql.connect(str(Path(tmp) / "v.db"), isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"CREATE TABLE v (id INTEGER PRIMARY KEY, e F32_BLOB({DIM}))")
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO v (id, e) VALUES (?, ?)", [(i + 1, data[i].tobytes()) for i in range(n)]
        )
        conn.execute("COMMIT")
        build, inserts = 0.0, []
        if ann:
            start = time.perf_counter()
            conn.execute("CREATE INDEX v_idx ON v (libsql_vector_idx(e, 'metric=cosine'))")
            build = time.perf_counter() - start
        for i in range(50 if ann else 0):  # maintenance cost of one more row with the index present
            vec = rng.standard_normal(DIM).astype(np.float32)
            start = time.perf_counter()
            conn.execute("INSERT INTO v (id, e) VALUES (?, ?)", (n + 1 + i, vec.tobytes()))
            inserts.append(time.perf_counter() - start)
        conn.execute("DELETE FROM v WHERE id > ?", (n,))

        exact_ids, t_np, t_sql, t_ann, recall = [], [], [], [], []
        for q in qs:
            start = time.perf_counter()
            scores = data @ q
            top = np.argpartition(-scores, 10)[:10]
            top = top[np.argsort(-scores[top])]
            t_np.append(time.perf_counter() - start)
            want = {int(i) + 1 for i in top}
            exact_ids.append(want)
            blob = q.tobytes()
            start = time.perf_counter()
            got_sql = conn.execute(
                "SELECT id FROM v ORDER BY vector_distance_cos(e, ?) LIMIT 10", (blob,)
            ).fetchall()
            t_sql.append(time.perf_counter() - start)
            assert {r[0] for r in got_sql} == want
            if ann:
                start = time.perf_counter()
                got = conn.execute(
                    "SELECT id FROM vector_top_k('v_idx', ?, 10)", (blob,)
                ).fetchall()
                t_ann.append(time.perf_counter() - start)
                recall.append(len({r[0] for r in got} & want) / 10)
        print(f"N={n:>7}  numpy     {_ms(t_np)}")
        print(f"N={n:>7}  sql-exact {_ms(t_sql)}")
        if ann:
            print(f"N={n:>7}  diskann   {_ms(t_ann)}  recall@10 {statistics.mean(recall):.3f}")
            print(f"N={n:>7}  diskann index build {build:.1f} s, insert with index {_ms(inserts)}")


if __name__ == "__main__":
    args = sys.argv[1:] or ["1000"]
    for arg in args:
        if arg != "--no-ann":
            measure(int(arg), ann="--no-ann" not in args)
