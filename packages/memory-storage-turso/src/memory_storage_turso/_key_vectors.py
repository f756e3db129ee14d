"""The stored vector of every graph key in a raw float32 file beside the graph, which the
re-rank reads with ``pread`` instead of SQL.

Why: the re-rank scores each candidate key from a stored row (64 keys per query at the
median, ~300 at the 95th percentile, at 1M episodes). Through SQL that was 3.5 ms p50 /
10 ms p95 with the database's pages cached and 5 / 26 ms when the machine's page-out
daemon had dropped them (it pages out file pages that no process maps after seconds
unused), and the binding holds the GIL through each statement, so the lexical channel
on the other thread waited too. From this file a key is one 4 KiB page at a known offset
(``dim`` × 4 bytes at ``key × dim × 4``): the pages a query needs are asked for at once
(``POSIX_FADV_WILLNEED``, so missing ones are read in parallel) and then read, with the
GIL released. It is the same bytes as the rows (a key is a distinct stored vector), so
the scores are the same to the last bit; and it costs no resident memory (page cache,
not mapped). Deleted rows do not matter: a key's vector never changes (a replaced vector
is a new row), and which rows are live is checked as before.

Written after the graph (a scan of the rows, or for an extended graph its base's file
plus the rows after the base) and checked on load: its size, and sampled keys against
their stored rows. A key none of whose rows was left when the file was written holds
zeros (scored 0: its rows are dead, so never returned).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from memory_storage_turso._connection import Tx

if TYPE_CHECKING:
    from memory_storage_turso._ann import AnnGraph, Read

__all__ = ["KeyVectors", "vectors_file", "write_key_vectors"]

_SAMPLES = 8


def vectors_file(graph: Path) -> Path:
    """Where the key vectors of the graph saved at ``graph`` are kept."""
    return graph.with_suffix(".vectors.f32")


class KeyVectors:
    """Read access to one graph's key vector file (the descriptor closes with it)."""

    def __init__(self, path: Path, dim: int, keys: int) -> None:
        self.path, self.dim, self.keys = path, dim, keys
        self._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)
        with contextlib.suppress(OSError, AttributeError):
            os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_RANDOM)  # no readahead

    def read(self, keys: list[int]) -> list[bytes]:
        """The stored vectors of ``keys``, each the ``dim`` × 4 bytes of its rows."""
        size = self.dim * 4
        with contextlib.suppress(OSError, AttributeError):
            for g in sorted(keys):
                os.posix_fadvise(self._fd, g * size, size, os.POSIX_FADV_WILLNEED)
        out = [os.pread(self._fd, size, g * size) for g in keys]
        if any(len(b) != size for b in out):
            raise OSError(f"{self.path} is shorter than its graph")
        return out

    @classmethod
    def open(cls, tx: Tx, graph: AnnGraph, path: Path) -> KeyVectors | None:
        """The file at ``path`` if it has one vector per key of ``graph`` and the sampled
        keys hold their stored rows' bytes (at least one, none other), else None."""
        keys = len(graph.starts) - 1
        try:
            if path.stat().st_size != keys * graph.dim * 4:
                return None
            vectors = cls(path, graph.dim, keys)
        except OSError:
            return None
        picks = np.unique(np.linspace(0, keys - 1, min(_SAMPLES, keys)).astype(np.int64))
        seen = 0
        for g, got in zip(picks.tolist(), vectors.read(picks.tolist()), strict=True):
            row = tx.one(
                "SELECT vector FROM embeddings WHERE vid = ?", (int(graph.vids[graph.starts[g]]),)
            )
            if row is None:
                continue
            if bytes(row[0]) != got:
                return None
            seen += 1
        return vectors if seen > 0 or keys == 0 else None


def _key_of(graph: AnnGraph) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The graph's row vids sorted, and the key of each."""
    keys = np.repeat(np.arange(len(graph.starts) - 1, dtype=np.int64), np.diff(graph.starts))
    order = np.argsort(graph.vids, kind="stable")
    return graph.vids[order], keys[order]


def write_key_vectors(
    read: Read,
    graph: AnnGraph,
    path: Path,
    tenant: str,
    model_id: str,
    cancel: threading.Event | None = None,
    base: tuple[Path, int, int] | None = None,
) -> None:
    """Write the key vector file of ``graph`` at ``path`` (tmp + rename) from its stored
    rows; given ``base`` (the file, keys and ``last_vid`` of the graph it extends), copy
    that file and read only the rows after it. Returns early (no file) if cancelled."""
    from memory_storage_turso._ann import _chunks

    size = graph.dim * 4
    keys = len(graph.starts) - 1
    vids, key_of = _key_of(graph)
    done = np.zeros(keys, np.bool_)
    after = 0
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_native_id()}.tmp")
    try:
        if base is not None:
            shutil.copyfile(base[0], tmp)
            done[: base[1]] = True
            after = base[2]
        with tmp.open("r+b" if base is not None else "wb") as f:
            f.truncate(keys * size)
            fd = f.fileno()
            for rows in _chunks(read, tenant, model_id, after):
                if cancel is not None and cancel.is_set():
                    return
                if int(rows[0][0]) > graph.last_vid or done.all():
                    break
                got = np.fromiter((int(r[0]) for r in rows), np.int64, len(rows))
                at = np.minimum(np.searchsorted(vids, got), max(0, vids.size - 1))
                for i in np.flatnonzero(vids[at] == got).tolist():
                    g = int(key_of[at[i]])
                    if not done[g]:
                        os.pwrite(fd, bytes(rows[i][3]), g * size)
                        done[g] = True
            f.flush()
            os.fsync(fd)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
