"""The episode id of every episode pk of a tenant, read in one snapshot and kept beside a
vector graph, so that a graph search names its hits' episodes without reading them.

Why: at 1M episodes a query's 200 vector hits named ~190 episodes that the entry's
bounded id cache (``_vectors.Entry.ids``, 65,536) had not kept, and reading them
(``SELECT pk, id FROM episodes WHERE pk IN ...``) cost 7.3 ms p50 / 12 ms p95 of random
page reads with the file cached, 12 / 28 ms when the page cache had dropped the pages,
about a third of the vector channel. The table is 24 bytes per episode (pk + 16-byte
id: 24 MB at 1M), read in ~0.5 s from the covering index of (tenant, started_at, id).

Why it stays right without re-reading: embedding ``vid`` values only grow (AUTOINCREMENT)
and a row's episode is deleted only with the row (ON DELETE CASCADE). So a row that is
live in a later snapshot and whose ``vid`` is at most the largest ``vid`` when the table
was read (``upto_vid``) existed, with its episode, when the table was read: its episode
pk names the same episode, whose id is the one the table holds. Rows newer than that
(the exact tail) may belong to an episode that reused a deleted episode's pk, so they
are looked up in the database as before. Saved beside the graph with a few sampled
(pk, id) pairs that must still match when it is loaded (a replaced database file is
refused, as the graph's own fingerprint does).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt

from memory_storage_turso._connection import Tx
from memory_storage_turso._lexical import _ints, _uuid_halves

__all__ = ["EpisodeIds", "id_rows"]

FORMAT = 1
_SAMPLES = 8

_SQL = (
    "SELECT count(*), group_concat(pk), group_concat(id, ''), "
    "(SELECT max(vid) FROM embeddings) FROM episodes WHERE tenant = ?"
)


def id_rows(tx: Tx, tenant: str) -> list[tuple[Any, ...]]:
    """The one aggregated row ``EpisodeIds.from_row`` parses (one statement: the binding
    costs ~3 µs per result row)."""
    return tx.all(_SQL, (tenant,))


@dataclass(frozen=True)
class EpisodeIds:
    """pk -> episode id of a tenant's episodes, valid for rows whose ``vid`` is at most
    ``upto_vid`` and that are live in the snapshot asking (see the module docstring)."""

    upto_vid: int
    pks: npt.NDArray[np.int64]  # sorted
    halves: npt.NDArray[np.uint64]  # (n, 2): id high, low 64 bits

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> EpisodeIds:
        count = int(row[0] or 0)
        if count == 0:
            return cls(int(row[3] or 0), np.empty(0, np.int64), np.empty((0, 2), np.uint64))
        pks = _ints(row[1], count)
        halves = _uuid_halves(row[2], count)
        order = np.argsort(pks, kind="stable")
        return cls(int(row[3] or 0), pks[order], halves[order])

    @classmethod
    def read(cls, tx: Tx, tenant: str) -> EpisodeIds:
        return cls.from_row(id_rows(tx, tenant)[0])

    @property
    def nbytes(self) -> int:
        return int(self.pks.nbytes + self.halves.nbytes)

    def get(self, pks: Iterable[int]) -> dict[int, UUID]:
        """The ids of those of ``pks`` the table holds."""
        want = np.fromiter(pks, np.int64)
        if want.size == 0 or self.pks.size == 0:
            return {}
        at = np.minimum(np.searchsorted(self.pks, want), self.pks.size - 1)
        found = self.pks[at] == want
        out: dict[int, UUID] = {}
        for pk, hi, lo in zip(
            want[found].tolist(),
            self.halves[at[found], 0].tolist(),
            self.halves[at[found], 1].tolist(),
            strict=True,
        ):
            out[pk] = UUID(int=(hi << 64) | lo)
        return out

    def _samples(self) -> list[tuple[int, str]]:
        if self.pks.size == 0:
            return []
        picks = np.unique(np.linspace(0, self.pks.size - 1, min(_SAMPLES, self.pks.size)))
        return [(int(self.pks[i]), str(self.get([int(self.pks[i])])[int(self.pks[i])]))
                for i in picks.astype(np.int64)]  # fmt: skip

    def save(self, path: Path, tenant: str) -> None:
        """Write the table to ``path`` (tmp + rename)."""
        meta = json.dumps(
            {"format": FORMAT, "tenant": tenant, "upto_vid": self.upto_vid,
             "samples": self._samples()}
        )  # fmt: skip
        tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_native_id()}.tmp")
        with tmp.open("wb") as f:
            np.savez(f, meta=np.frombuffer(meta.encode(), np.uint8), pks=self.pks,
                     halves=self.halves)  # fmt: skip
        os.replace(tmp, path)

    @classmethod
    def load(cls, tx: Tx, path: Path, tenant: str) -> EpisodeIds | None:
        """The table saved at ``path`` if it is this database's (format, tenant, its
        sampled episodes still have the saved ids where they exist, and the database
        has rows up to ``upto_vid``), else None."""
        failed = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)
        try:
            with np.load(path) as z:
                meta = json.loads(bytes(z["meta"]).decode())
                pks = np.asarray(z["pks"], np.int64)
                halves = np.asarray(z["halves"], np.uint64).reshape(-1, 2)
        except failed:
            return None
        if meta.get("format") != FORMAT or meta.get("tenant") != tenant or pks.size != len(halves):
            return None
        top = tx.one("SELECT max(vid) FROM embeddings")
        if top is None or int(top[0] or 0) < int(meta["upto_vid"]):
            return None
        for pk, eid in meta["samples"]:
            row = tx.one("SELECT id FROM episodes WHERE pk = ? AND tenant = ?", (pk, tenant))
            if row is not None and str(UUID(str(row[0]))) != eid:
                return None
        with contextlib.suppress(ValueError):
            return cls(int(meta["upto_vid"]), pks, halves)
        return None
