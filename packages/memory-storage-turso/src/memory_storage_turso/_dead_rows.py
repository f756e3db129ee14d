"""The rows of a vector graph no longer stored, found once per vector generation and
kept beside the graph, so that a search of a graph that lost rows skips them instead of
checking every row it returns against the database.

Why: after one episode was deleted from the 1M store, every search checked which of its
~200 returned rows are still stored (``SELECT vid ... WHERE vid IN``: random pages of a
10 GB table, the GIL held), and retrieval fell back from p50 / p95 ~44 / 73 ms to 73 /
148 ms (docs/benchmarks.md), until a rebuild at a fifth of the rows gone.

Why it is exact: the set is the graph's row ids minus those stored, read in one snapshot
with the (tenant, model)'s ``vector_generations`` value. Every delete or replacement of a
vector bumps that value in its own transaction, and row ids only grow (a graph row can
only go away, never come back), so any snapshot that reads the same value stores exactly
the graph's rows that the set does not name. A snapshot reading another value does not
use the set (its rows are checked as before) and a new one is read. Saved beside the
graph with that value (``<graph>.dead.npz``); a saved set of another value is read again,
as is one of which a sampled row is stored (saved beside another copy of the database).
Reading it is one aggregated row of the graph's stored row ids (0.85 s of SQL at 1M
episodes with the index cached, against 0.27 s for the count a generation change already
makes), so it runs in the background (``VectorIndex._find_dead``): the searches until it
is there check their rows as before.
"""

from __future__ import annotations

import json
import os
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from memory_storage_turso._connection import Tx

if TYPE_CHECKING:
    from memory_storage_turso._ann import AnnGraph

__all__ = ["DeadRows", "dead_file"]

FORMAT = 1
_SAMPLES = 8

_SQL = (
    "SELECT count(*), group_concat(vid) FROM embeddings "
    "WHERE tenant = ? AND model_id = ? AND vid <= ?"
)


def dead_file(graph: Path) -> Path:
    """Where the dead rows of the graph saved at ``graph`` are kept."""
    return graph.with_suffix(".dead.npz")


@dataclass(frozen=True)
class DeadRows:
    """The graph's row ids (``vid``) not stored at vector ``generation``, and how many of
    its rows are (``live``)."""

    generation: int
    vids: npt.NDArray[np.int64]  # sorted
    live: int
    _set: frozenset[int] = field(default=frozenset(), compare=False, repr=False)

    @classmethod
    def read(cls, tx: Tx, graph: AnnGraph, tenant: str, model_id: str) -> DeadRows:
        """Read in ``tx``, at the generation its snapshot holds."""
        from memory_storage_turso._ann import vector_generation

        generation = vector_generation(tx, tenant, model_id)
        row = tx.one(_SQL, (tenant, model_id, graph.last_vid))
        count = int(row[0]) if row is not None and row[0] else 0
        stored = np.zeros(graph.last_vid + 1, np.bool_)
        if count:
            vids = np.fromstring(str(row[1]), dtype=np.int64, sep=",")  # type: ignore[index]
            if vids.size != count:
                raise ValueError(f"expected {count} row ids, parsed {vids.size}")
            stored[vids] = True
        dead = np.sort(graph.vids[~stored[graph.vids]])
        return cls.of(generation, dead, count)

    @classmethod
    def of(cls, generation: int, vids: npt.NDArray[np.int64], live: int) -> DeadRows:
        return cls(generation, vids, live, frozenset(vids.tolist()))

    def __contains__(self, vid: int) -> bool:
        return vid in self._set

    def save(self, path: Path, tenant: str, model_id: str) -> None:
        """Write the set to ``path`` (tmp + rename)."""
        meta = json.dumps(
            {"format": FORMAT, "tenant": tenant, "model_id": model_id,
             "generation": self.generation, "live": self.live}
        )  # fmt: skip
        tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_native_id()}.tmp")
        with tmp.open("wb") as f:
            np.savez(f, meta=np.frombuffer(meta.encode(), np.uint8), vids=self.vids)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, tenant: str, model_id: str, generation: int) -> DeadRows | None:
        """The set saved at ``path`` if it is of (tenant, model) at ``generation``."""
        failed = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)
        try:
            with np.load(path) as z:
                meta = json.loads(bytes(z["meta"]).decode())
                vids = np.asarray(z["vids"], np.int64)
        except failed:
            return None
        if meta.get("format") != FORMAT or meta.get("generation") != generation:
            return None
        if meta.get("tenant") != tenant or meta.get("model_id") != model_id:
            return None
        return cls.of(generation, vids, int(meta["live"]))

    @classmethod
    def saved(
        cls, tx: Tx, path: Path | None, tenant: str, model_id: str, generation: int
    ) -> DeadRows | None:
        """The set saved at ``path`` if it is of (tenant, model) at ``generation`` (that
        of ``tx``'s snapshot) and none of a few rows it names is stored."""
        if path is None:
            return None
        known = cls.load(path, tenant, model_id, generation)
        return known if known is not None and not _stored(tx, known.vids) else None


def _stored(tx: Tx, vids: npt.NDArray[np.int64]) -> bool:
    """Whether any of a few of ``vids``, spread over them, is stored (a set saved beside
    another copy of the database, whose deletes differ)."""
    if vids.size == 0:
        return False
    picks = vids[
        np.unique(np.linspace(0, vids.size - 1, min(_SAMPLES, vids.size)).astype(np.int64))
    ]
    row = tx.one(
        "SELECT count(*) FROM embeddings WHERE vid IN (SELECT value FROM json_each(?))",
        (json.dumps(picks.tolist()),),
    )
    return bool(row and row[0])
