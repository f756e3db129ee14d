"""The lexical index of a tenant saved beside the database, so that opening a big store
loads its postings from one file instead of re-analysing every stored text.

Why: loading a tenant's index from ``lexical_batches`` splits and numbers every stored
term in Python and sorts every (term, document) pair; at 100K episodes (450K documents)
that was 17-22 s of a 10.6-29 s open on a loaded machine. A snapshot is the finished
arrays (``np.load`` of one uncompressed file, no parsing), and the rows written after it
(``seq`` > its ``last_seq``) are topped up from the database as before.

When a snapshot is used: its format and tenant match, the tenant's ``lexical_generations``
value is the one it was saved at (every delete or task-text rewrite bumps it, so those
rows are exactly the database's), the database holds as many rows up to its
``last_seq`` as it had, and the row at ``last_seq`` has the same terms (a digest): a
restored or replaced database file is refused. Otherwise the index loads from the
database and a new snapshot is saved. Never beside an encrypted database (the terms are
the texts' words in clear).

Saving happens in a background thread from a copy taken on the query thread (the base
arrays are never changed in place; the delta is copied), once an index holds
``SAVE_MIN_DOCS`` documents more than its last snapshot, or an eighth more if that is
more: rewriting a big file on every few writes would cost more than it saves.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from memory_storage_turso._connection import Tx

__all__ = ["ARRAYS", "SAVE_MIN_DOCS", "Snapshot", "discard", "load", "path_of", "take"]

logger = logging.getLogger(__name__)

FORMAT = 2  # 2: term frequencies float32
SAVE_MIN_DOCS = 20_000
"""Documents below which (or added since the last snapshot) nothing is saved: loading
them from the database takes a fraction of a second."""

ARRAYS = ("pks", "items", "hi", "lo", "lengths", "df", "offsets", "docs", "tfs")


def path_of(database: Path, tenant: str) -> Path:
    key = hashlib.blake2b(tenant.encode(), digest_size=8).hexdigest()
    return database.parent / f"{database.name}-lexical-{key}.npz"


def _row_digest(tx: Tx, tenant: str, seq: int) -> str | None:
    row = tx.one(
        "SELECT episode_pk, items, lengths, terms FROM lexical_batches "
        "WHERE seq = ? AND tenant = ?",
        (seq, tenant),
    )
    if row is None:
        return None
    return hashlib.blake2b(json.dumps([str(v) for v in row]).encode(), digest_size=16).hexdigest()


def _count(tx: Tx, tenant: str, last_seq: int) -> int:
    row = tx.one(
        "SELECT count(*) FROM lexical_batches WHERE tenant = ? AND seq <= ?", (tenant, last_seq)
    )
    return int(row[0]) if row else 0


@dataclass
class Snapshot:
    """What a saved index holds: its scalars, vocabulary (terms in id order), arrays."""

    meta: dict[str, Any]
    vocab: list[str]
    arrays: dict[str, npt.NDArray[Any]]
    delta: list[tuple[int, bytes, bytes]]  # (term, docs int32, tfs float32) to fold in

    def _folded(self) -> dict[str, npt.NDArray[Any]]:
        """The arrays with the delta folded into the base postings (one sort)."""
        a = dict(self.arrays)
        if not self.delta:
            return a
        offsets = a["offsets"]
        terms = [np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))]
        docs, tfs = [a["docs"]], [a["tfs"]]
        for term, d, f in self.delta:
            part = np.frombuffer(d, np.int32)
            terms.append(np.full(part.size, term, np.int64))
            docs.append(part)
            tfs.append(np.frombuffer(f, np.float32))
        t, d_all = np.concatenate(terms), np.concatenate(docs)
        order = np.argsort((t << 32) | d_all.astype(np.int64), kind="stable")
        counts = np.bincount(t, minlength=len(self.vocab))
        a["offsets"] = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        a["docs"], a["tfs"] = d_all[order], np.concatenate(tfs)[order]
        return a

    def save(self, path: Path) -> None:
        """Write it (tmp + rename: a reader sees the old file or the new one)."""
        arrays = self._folded()
        vocab = "\n".join(self.vocab).encode()
        tmp = path.with_suffix(f".npz.{os.getpid()}-{threading.get_native_id()}.tmp")
        try:
            payload: dict[str, Any] = {
                "meta": np.frombuffer(json.dumps(self.meta).encode(), np.uint8),
                "vocab": np.frombuffer(vocab, np.uint8),
                **arrays,
            }
            with tmp.open("wb") as f:
                np.savez(f, **payload)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()


def discard(path: Path) -> None:
    """Remove a snapshot file (a missing one is fine)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def take(index: Any, tx: Tx, tenant: str) -> Snapshot:
    """A copy of ``index`` (a ``TenantIndex``) that later appends cannot change, with the
    facts ``load`` checks, read inside ``tx``'s snapshot."""
    n, terms = index.n, len(index.vocab)
    meta = {
        "format": FORMAT, "tenant": tenant, "generation": index.generation,
        "last_seq": index.last_seq, "n": n, "total_length": index.total_length,
        "batches": _count(tx, tenant, index.last_seq),
        "last_row": _row_digest(tx, tenant, index.last_seq),
    }  # fmt: skip
    arrays = {name: getattr(index, name)[:n] for name in ("pks", "items", "hi", "lo", "lengths")}
    arrays["df"] = index.df[:terms].copy()  # changed in place by appends
    arrays["offsets"], arrays["docs"], arrays["tfs"] = index.offsets, index.docs, index.tfs
    if len(arrays["offsets"]) - 1 < terms:  # terms first seen in the delta
        pad = np.full(terms - (len(arrays["offsets"]) - 1), arrays["offsets"][-1], np.int64)
        arrays["offsets"] = np.concatenate((arrays["offsets"], pad))
    delta = [(t, d.tobytes(), f.tobytes()) for t, (d, f) in index.delta.items()]
    return Snapshot(meta, list(index.vocab), arrays, delta)


def load(tx: Tx, path: Path, tenant: str, generation: int) -> Snapshot | None:
    """The snapshot at ``path`` if it is still exactly the database's rows up to its
    ``last_seq`` (see the module docstring), else None."""
    try:
        with np.load(path) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            if (meta.get("format"), meta.get("tenant"), meta.get("generation")) != (
                FORMAT, tenant, generation,
            ):  # fmt: skip
                stale = True
            else:
                stale = False
                arrays = {name: z[name] for name in ARRAYS}
                vocab = bytes(z["vocab"]).decode().split("\n") if meta["n"] else []
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if stale:
        # Another generation: texts were deleted or rewritten since it was saved, so it
        # may quote them. Removed rather than kept (nothing deleted survives on disk).
        discard(path)
        return None
    last_seq = int(meta["last_seq"])
    if _count(tx, tenant, last_seq) != meta["batches"]:
        return None
    if _row_digest(tx, tenant, last_seq) != meta["last_row"]:
        return None
    if len(arrays["offsets"]) != len(vocab) + 1 or len(arrays["pks"]) != meta["n"]:
        return None
    return Snapshot(meta, vocab if vocab != [""] else [], arrays, [])
