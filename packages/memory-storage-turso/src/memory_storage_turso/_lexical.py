"""Episode lexical search: Okapi BM25 over an in-process inverted index per tenant.

Why not FTS5's ``bm25()``: it costs ~4 µs per *matching* document, so one common query
word (``test`` in 18K of 45K documents) made a search take 70 ms; and one FTS table shares
its statistics across tenants. Here a query costs a few numpy operations per query term
over that term's posting arrays, and the statistics (document count, average length,
document frequencies) are per tenant.

The ranking equals memory-core's in-memory backend on the same data: the same analyser
(``memory_core.text.terms``: tokenizer, stopwords, Snowball stemmer), the same documents
(item 0 = the task description, item n = step n's ``search_text()``, empty ones included),
the same formula (``memory_core.storage.bm25``, one definition for both), OR semantics,
so scores agree to the last bit and ties fall the same way (episode id, then item). Each
hit also names the query terms its document holds (a bit per query term, set while
scoring), which calibrated relevance weighs.

The database holds each document's analysed terms in ``lexical_batches`` (one row per text,
``seq`` AUTOINCREMENT). Freshness across processes works like the vector matrices: the
index remembers the largest ``seq`` it holds and the tenant's ``lexical_generations``
value. Before each search, inside the search's read transaction, it reads both (two index
lookups): rows with a larger ``seq`` are appended (writers hold the write lock for their
whole transaction, so committed ``seq`` values are always a prefix); a changed generation
(an erased episode, a rewritten task text) forces a reload.
"""

from __future__ import annotations

import logging
import threading
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt
from memory_core.storage import bm25_top
from memory_core.storage.bm25 import idf
from memory_core.text import terms

from memory_storage_turso import _lexical_snapshot
from memory_storage_turso._connection import Tx
from memory_storage_turso._hit_pks import HitPks

logger = logging.getLogger(__name__)

_LOW64 = (1 << 64) - 1

MERGE_MIN_PAIRS = 1 << 16
"""Fold the delta into the base once it holds this many (term, document) pairs, or a
quarter of the base if that is more (amortised O(1) per appended pair)."""

_UUIDS_HELD = 1 << 16
"""Episode ``UUID`` objects an index keeps for its hits at most (then it starts over)."""

LOAD_CHUNK = 20_000
"""Rows (batches of texts) fetched per query when loading (bounds the strings' size)."""


INSERT_BATCH = (
    "INSERT INTO lexical_batches (tenant, episode_pk, episode_id, n, items, lengths, terms) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def analyse(text: str) -> tuple[int, str]:
    """What ``lexical_batches`` stores for a text: its number of search terms and the
    terms, space-separated."""
    found = terms(text)
    return len(found), " ".join(found)


@dataclass
class TenantIndex:
    """Every indexed text of one tenant: documents numbered in ``seq`` order.

    Postings are a compressed-row *base* (per term: a slice of document numbers and term
    frequencies, built in one vectorised pass at load) plus a *delta* of per-term growable
    arrays for documents appended since; the delta is merged into the base when it grows
    past a quarter of it, so appends stay cheap and queries touch at most two arrays per
    term.
    """

    generation: int
    last_seq: int = 0
    n: int = 0
    total_length: int = 0
    pks: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    items: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    hi: npt.NDArray[np.uint64] = field(default_factory=lambda: np.empty(0, np.uint64))
    lo: npt.NDArray[np.uint64] = field(default_factory=lambda: np.empty(0, np.uint64))
    lengths: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0, np.float64))
    vocab: dict[str, int] = field(default_factory=dict)
    df: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    """Documents holding each term (by term id)."""
    offsets: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(1, np.int64))
    docs: npt.NDArray[np.int32] = field(default_factory=lambda: np.empty(0, np.int32))
    tfs: npt.NDArray[np.float32] = field(default_factory=lambda: np.empty(0, np.float32))
    """Term frequencies as float32 (exact for counts below 2**24): 8 bytes per posting
    with ``docs``, not 12; widened to float64 per query term before scoring."""
    delta: dict[int, tuple[array[int], array[float]]] = field(default_factory=dict)
    delta_pairs: int = 0
    impacts: dict[int, bm25_top.Impact] = field(default_factory=dict)
    """Impact orders of the base's long lists queried so far (``bm25_top``); dropped
    when the base is rebuilt."""
    marks: dict[int, npt.NDArray[np.uint8]] = field(default_factory=dict)
    """Bitmaps of the base's common lists queried so far (``bm25_top.doc_marks``);
    dropped with the impact orders."""
    snapshot_docs: int = 0
    """Documents that came from a saved snapshot (``_lexical_snapshot``), not the rows."""
    uuids: dict[int, UUID] = field(default_factory=dict)
    """Episode id (as an int) -> its ``UUID``, for the hits: building one is ~1.3 µs of
    Python, and a query's 200 hits name ~130 episodes, mostly seen before."""

    @classmethod
    def from_snapshot(cls, snap: _lexical_snapshot.Snapshot) -> TenantIndex:
        meta, a = snap.meta, snap.arrays
        return cls(
            generation=int(meta["generation"]), last_seq=int(meta["last_seq"]),
            n=int(meta["n"]), total_length=int(meta["total_length"]), snapshot_docs=int(meta["n"]),
            vocab=dict(zip(snap.vocab, range(len(snap.vocab)), strict=True)),
            pks=a["pks"], items=a["items"], hi=a["hi"], lo=a["lo"], lengths=a["lengths"],
            df=a["df"], offsets=a["offsets"], docs=a["docs"], tfs=a["tfs"],
        )  # fmt: skip

    def _grow(self, need: int) -> None:
        capacity = max(need, 2 * len(self.pks), 1024)
        for name in ("pks", "items", "hi", "lo", "lengths"):
            old = getattr(self, name)
            new = np.zeros(capacity, old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)

    def append(
        self,
        last_seq: int,
        pks: npt.NDArray[np.int64],
        items: npt.NDArray[np.int64],
        lengths: npt.NDArray[np.int64],
        texts: Sequence[str],
        episode_ids: npt.NDArray[np.uint64],
    ) -> None:
        """Add documents: columns of equal length; ``texts`` are stored terms strings,
        ``lengths`` their term counts, ``episode_ids`` (n, 2) UUID halves (high, low)."""
        count = len(texts)
        if count == 0:
            return
        first, end = self.n, self.n + count
        if end > len(self.pks):
            self._grow(end)
        words = " ".join(texts).split()
        vocab = self.vocab
        for word in dict.fromkeys(words):  # C-speed passes over the words; Python per new term
            if word not in vocab:
                vocab[word] = len(vocab)
        ids = np.fromiter(map(vocab.__getitem__, words), dtype=np.int64, count=len(words))
        self.pks[first:end] = pks
        self.items[first:end] = items
        self.hi[first:end] = episode_ids[:, 0]
        self.lo[first:end] = episode_ids[:, 1]
        self.lengths[first:end] = lengths
        self.n = end
        self.total_length += int(lengths.sum())
        self.last_seq = max(self.last_seq, last_seq)
        if len(self.df) < len(vocab):
            df = np.zeros(max(len(vocab), 2 * len(self.df), 1024), np.int64)
            df[: len(self.df)] = self.df
            self.df = df
        # (term, document) pairs with their counts, sorted by term then document.
        doc_of_word = np.repeat(np.arange(first, end, dtype=np.int64), lengths)
        keys, tf = np.unique((ids << 32) | doc_of_word, return_counts=True)
        terms_, docs = keys >> 32, (keys & 0xFFFFFFFF).astype(np.int32)
        self.df += np.bincount(terms_, minlength=len(self.df))
        if first == 0:
            self._set_base(terms_, docs, tf.astype(np.float32))
            return
        bounds = np.flatnonzero(np.diff(terms_)) + 1
        for lo, hi in zip(
            np.concatenate(([0], bounds)).tolist(),
            np.concatenate((bounds, [terms_.size])).tolist(),
            strict=True,
        ):
            entry = self.delta.get(int(terms_[lo]))
            if entry is None:
                entry = self.delta[int(terms_[lo])] = (array("i"), array("f"))
            entry[0].frombytes(docs[lo:hi].tobytes())
            entry[1].frombytes(tf[lo:hi].astype(np.float32).tobytes())
        self.delta_pairs += int(terms_.size)
        if self.delta_pairs > max(MERGE_MIN_PAIRS, self.docs.size // 4):
            self._merge()

    def _set_base(
        self,
        terms_: npt.NDArray[np.int64],
        docs: npt.NDArray[np.int32],
        tfs: npt.NDArray[np.float32],
    ) -> None:
        counts = np.bincount(terms_, minlength=len(self.vocab))
        self.offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        self.docs, self.tfs = docs, tfs
        self.delta, self.delta_pairs = {}, 0
        self.impacts = {}
        self.marks = {}

    def _merge(self) -> None:
        """Fold the delta into the base (one sort of every pair)."""
        base_terms = np.repeat(
            np.arange(len(self.offsets) - 1, dtype=np.int64), np.diff(self.offsets)
        )
        parts_t, parts_d, parts_f = [base_terms], [self.docs], [self.tfs]
        for term, (docs, tfs) in self.delta.items():
            parts_t.append(np.full(len(docs), term, np.int64))
            parts_d.append(np.frombuffer(docs, dtype=np.int32).copy())
            parts_f.append(np.frombuffer(tfs, dtype=np.float32).copy())
        terms_, docs_ = np.concatenate(parts_t), np.concatenate(parts_d)
        order = np.argsort((terms_ << 32) | docs_.astype(np.int64), kind="stable")
        self._set_base(terms_[order], docs_[order], np.concatenate(parts_f)[order])

    def _orders(
        self, term: int, a: int, b: int, avg: float
    ) -> tuple[bm25_top.Impact | None, npt.NDArray[np.uint8] | None]:
        """The impact order and bitmap of the base list ``docs[a:b]`` of ``term``, where
        it is long (or common) enough for them: made on first use, then kept."""
        impact = marks = None
        if b - a >= bm25_top.IMPACT_MIN:
            impact = self.impacts.get(term)
            if impact is None:
                impact = bm25_top.impact_order(self.docs[a:b], self.tfs[a:b], self.lengths, avg)
                self.impacts[term] = impact
            if b - a >= bm25_top.MARKS_SHARE * self.n:
                marks = self.marks.get(term)
                if marks is None:
                    marks = self.marks[term] = bm25_top.doc_marks(self.docs[a:b])
        return impact, marks

    def prepare(self) -> int:
        """Make the impact order and bitmap of every long base list now (``warm``), not
        in the first query that holds its word; returns how many lists have one.

        Why: at 1M episodes (4.5M documents) 149 lists hold 97% of the pairs; each cost
        the first query of its word 5-15 ms (an argsort of up to millions of pairs), and
        in a fresh process a quarter of 200 workload queries paid one (p95). All of them
        take ~1.3 s and ~136 MB, which the queries would fill in anyway."""
        if self.n == 0:
            return 0
        avg = self.total_length / self.n or 1.0
        long_ = np.flatnonzero(np.diff(self.offsets) >= bm25_top.IMPACT_MIN)
        for term in long_.tolist():
            self._orders(term, int(self.offsets[term]), int(self.offsets[term + 1]), avg)
        return int(long_.size)

    def _terms(self, term: int, weight: float, avg: float) -> list[bm25_top.Term]:
        """The term's base list (with its cached impact order when long) and delta."""
        out = []
        if term + 1 < len(self.offsets):
            a, b = int(self.offsets[term]), int(self.offsets[term + 1])
            if b > a:
                impact, marks = self._orders(term, a, b, avg)
                out.append(bm25_top.Term(weight, self.docs[a:b], self.tfs[a:b], impact, marks))
        entry = self.delta.get(term)
        if entry is not None:
            out.append(
                bm25_top.Term(
                    weight,
                    np.frombuffer(entry[0], dtype=np.int32).copy(),
                    np.frombuffer(entry[1], dtype=np.float32).copy(),
                )
            )
        return out

    def top_k(
        self,
        query_terms: Sequence[str],
        k: int,
        allowed: npt.NDArray[np.int64] | None,
        noted: HitPks | None = None,
    ) -> list[tuple[UUID, int, float, tuple[str, ...]]]:
        """(episode id, item, BM25, query terms held) of the best ``k`` documents whose
        episode pk is in ``allowed`` (every episode when None), best first, ties by
        (episode id, item). Exact, without scoring every posting (``bm25_top``).
        ``noted`` receives their episodes' pks."""
        if self.n == 0 or k <= 0:
            return []
        avg = self.total_length / self.n or 1.0
        found: list[str] = []  # query terms present in the index
        parts: list[bm25_top.Term] = []
        word_of: list[int] = []  # parts[i] is a list of found[word_of[i]]
        for word in dict.fromkeys(query_terms):
            term = self.vocab.get(word)
            if term is None:
                continue
            weight = idf(self.n, int(self.df[term]))
            for part in self._terms(term, weight, avg):
                parts.append(part)
                word_of.append(len(found))
            found.append(word)
        if not parts:
            return []
        keep = None
        if allowed is not None:
            pks = self.pks
            top = max(int(pks[: self.n].max()), int(allowed.max()) if allowed.size else 0)
            mask = np.zeros(top + 1, np.bool_)
            mask[allowed] = True

            def keep(docs: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
                return mask[pks[docs]]

        candidates, cand_scores, held = bm25_top.score_top(parts, k, self.lengths, avg, keep)
        if candidates.size == 0:
            return []
        chosen_rows = self._first(candidates, cand_scores, k)
        # Which found words each chosen document holds (a word's list may come in parts),
        # and its id, read as whole columns: per-row numpy scalars cost more than a hit.
        holds = np.zeros((chosen_rows.size, len(found)), np.bool_)
        for word_index, present in zip(word_of, held, strict=True):
            holds[:, word_index] |= present[chosen_rows]
        docs = candidates[chosen_rows]
        ids = self.uuids  # one UUID per episode, however many items it has, kept
        if len(ids) > _UUIDS_HELD:
            ids.clear()
        words: dict[tuple[bool, ...], tuple[str, ...]] = {}  # the few combinations held
        out = []
        for hi, lo, item, score, flags in zip(
            self.hi[docs].tolist(),
            self.lo[docs].tolist(),
            self.items[docs].tolist(),
            cand_scores[chosen_rows].tolist(),
            map(tuple, holds.tolist()),
            strict=True,
        ):
            key = (hi << 64) | lo
            eid = ids.get(key)
            if eid is None:
                eid = ids[key] = UUID(int=key)
            held_words = words.get(flags)
            if held_words is None:
                held_words = words[flags] = tuple(w for w, f in zip(found, flags, strict=True) if f)
            out.append((eid, item, score, held_words))
        if noted is not None:
            noted.note(zip([h[0].int for h in out], self.pks[docs].tolist(), strict=True))
        return out

    def _first(
        self, candidates: npt.NDArray[np.int64], scores: npt.NDArray[np.float64], k: int
    ) -> npt.NDArray[np.int64]:
        """Positions in ``candidates`` of the best ``k`` documents, best first, ties by
        (episode id, item).

        The documents tied with the k-th score compete for the places the better ones
        leave (``need``) by id alone. A word in tens of thousands of short texts ties them
        all (one score per length): at 1M episodes an identifier's 20 hits lexsorted 70K
        tied documents, ~8 ms. Only those whose id's high half is at most the
        ``need``-th smallest among the tied can be in (any other has ``need`` tied
        documents before it), so only those are sorted: the same order, the same cut."""
        rows = np.arange(candidates.size)
        if k < candidates.size:
            kth = bm25_top.kth_largest(scores, k)
            above = np.flatnonzero(scores > kth)
            tied = np.flatnonzero(scores == kth)
            need = k - above.size
            if tied.size > 2 * need:
                high = self.hi[candidates[tied]]
                tied = tied[high <= np.partition(high, need - 1)[need - 1]]
            rows = np.concatenate((above, tied))
        docs = candidates[rows]
        order = np.lexsort((self.items[docs], self.lo[docs], self.hi[docs], -scores[rows]))
        return rows[order[:k]]

    @property
    def nbytes(self) -> int:
        """Array bytes (the vocabulary dict and its strings not counted)."""
        arrays = sum(
            a.nbytes
            for a in (
                *(self.pks, self.items, self.hi, self.lo, self.lengths, self.df),
                *(self.offsets, self.docs, self.tfs),
            )
        )
        delta = sum(d.itemsize * len(d) + f.itemsize * len(f) for d, f in self.delta.values())
        marks = sum(m.nbytes for m in self.marks.values())
        return int(arrays + delta + marks + sum(i.nbytes for i in self.impacts.values()))


def _ints(csv: object, count: int) -> npt.NDArray[np.int64]:
    """Parse group_concat's comma-separated integers (numpy's C parser)."""
    out = np.fromstring(str(csv), dtype=np.int64, sep=",")
    if out.size != count:
        raise ValueError(f"expected {count} integers, parsed {out.size}")
    return out


_HEX = np.full(256, 255, np.uint8)
_HEX[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)
_HEX[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16, dtype=np.uint8)


def _uuid_halves(joined: object, count: int) -> npt.NDArray[np.uint64]:
    """``count`` canonical UUID strings, concatenated, as (count, 2) uint64 (high, low)
    halves, whose lexicographic order is the UUIDs' order (vectorised hex parsing)."""
    raw = np.frombuffer(str(joined).encode("ascii"), np.uint8)
    if raw.size != 36 * count:
        raise ValueError(f"expected {count} UUIDs of 36 characters")
    digits = np.delete(raw.reshape(count, 36), [8, 13, 18, 23], axis=1)
    nibbles = _HEX[digits].astype(np.uint64)
    if (nibbles > 15).any():
        raise ValueError("episode id is not a hexadecimal UUID")
    shifts = np.arange(60, -1, -4, dtype=np.uint64)
    out = np.empty((count, 2), np.uint64)
    out[:, 0] = (nibbles[:, :16] << shifts).sum(axis=1, dtype=np.uint64)
    out[:, 1] = (nibbles[:, 16:] << shifts).sum(axis=1, dtype=np.uint64)
    return out


class LexicalIndex:
    """The per-tenant indexes of one backend instance.

    Args:
        database: the local file snapshots are saved beside (``_lexical_snapshot``;
            None: never, e.g. a remote or encrypted database).
    """

    def __init__(self, database: Path | None = None) -> None:
        self._tenants: dict[str, TenantIndex] = {}
        self._database = database
        self._saved: dict[str, int] = {}  # tenant -> documents in its newest snapshot
        self._saving: dict[str, threading.Thread] = {}

    def refreshed(self, tx: Tx, tenant: str) -> TenantIndex:
        """The tenant's index, brought up to date inside ``tx``'s snapshot."""
        # With the generation, the newest batch (one index seek): the top-up's statement
        # (an aggregate of the rows after the last one loaded, ~57 us to prepare and run
        # even when there are none) only runs when there is something to load.
        row = tx.one(
            "SELECT (SELECT generation FROM lexical_generations WHERE tenant = ?), max(seq) "
            "FROM lexical_batches WHERE tenant = ?",
            (tenant, tenant),
        )
        generation = int(row[0]) if row is not None and row[0] is not None else 0
        newest = int(row[1]) if row is not None and row[1] is not None else 0
        index = self._tenants.get(tenant)
        if index is None or index.generation != generation:
            index = self._opened(tx, tenant, generation)
            self._tenants[tenant] = index
        if newest > index.last_seq:
            self._top_up(tx, tenant, index)
        if self._database is not None:
            self._maybe_save(tx, tenant, index)
        return index

    def _opened(self, tx: Tx, tenant: str, generation: int) -> TenantIndex:
        """A fresh index: the saved snapshot if it is still the database's, else empty."""
        self._saved.pop(tenant, None)
        if self._database is not None:
            snap = _lexical_snapshot.load(
                tx, _lexical_snapshot.path_of(self._database, tenant), tenant, generation
            )
            if snap is not None:
                self._saved[tenant] = int(snap.meta["n"])
                return TenantIndex.from_snapshot(snap)
        return TenantIndex(generation=generation)

    @staticmethod
    def _top_up(tx: Tx, tenant: str, index: TenantIndex) -> None:
        while True:
            # One result row per chunk: the binding's per-row cost (~3 µs) dominated a
            # row-per-document load; group_concat builds the columns in C. All columns
            # aggregate the same rows in the same order (document order does not affect
            # scores).
            row = tx.one(
                "SELECT count(*), sum(n), max(seq), group_concat(episode_pk), group_concat(n), "
                "group_concat(items), group_concat(lengths), group_concat(terms, char(10)), "
                "group_concat(episode_id, '') FROM (SELECT seq, episode_pk, n, items, lengths, "
                "terms, episode_id FROM lexical_batches WHERE tenant = ? AND seq > ? "
                "ORDER BY seq LIMIT ?)",
                (tenant, index.last_seq, LOAD_CHUNK),
            )
            if row is None or not row[0]:
                return
            batches, docs = int(row[0]), int(row[1])
            per_batch = _ints(row[4], batches)
            index.append(
                int(row[2]),
                np.repeat(_ints(row[3], batches), per_batch),
                _ints(row[5], docs),
                _ints(row[6], docs),
                str(row[7]).split("\n"),
                np.repeat(_uuid_halves(row[8], batches), per_batch, axis=0),
            )
            if batches < LOAD_CHUNK:
                return

    def _maybe_save(self, tx: Tx, tenant: str, index: TenantIndex) -> None:
        """Save a snapshot in the background once enough documents are new to it."""
        saved = self._saved.get(tenant, 0)
        if index.n - saved < max(_lexical_snapshot.SAVE_MIN_DOCS, saved // 8):
            return
        running = self._saving.get(tenant)
        if running is not None and running.is_alive():
            return
        assert self._database is not None
        snap = _lexical_snapshot.take(index, tx, tenant)
        path = _lexical_snapshot.path_of(self._database, tenant)
        self._saved[tenant] = index.n

        def save() -> None:
            try:
                snap.save(path)
            except OSError:
                logger.warning("could not save the lexical index beside %s", self._database)

        thread = threading.Thread(target=save, name="lexical-snapshot", daemon=True)
        self._saving[tenant] = thread
        thread.start()

    def discard_snapshot(self, tenant: str) -> None:
        """Remove ``tenant``'s saved snapshot after texts were deleted: it still holds
        their terms, and nothing deleted may survive on disk. The next open reloads
        from the rows and saves a new one."""
        if self._database is None:
            return
        running = self._saving.pop(tenant, None)
        if running is not None:
            running.join()
        self._saved.pop(tenant, None)
        _lexical_snapshot.discard(_lexical_snapshot.path_of(self._database, tenant))

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the snapshots being saved."""
        for thread in list(self._saving.values()):
            thread.join(timeout)

    def forget(self, tenant: str | None = None) -> None:
        """Drop cached indexes (all, or one tenant's): they reload on next search."""
        if tenant is None:
            self._tenants.clear()
        else:
            self._tenants.pop(tenant, None)

    def stats(self) -> dict[str, Any]:
        return {
            "tenants": len(self._tenants),
            "documents": sum(t.n for t in self._tenants.values()),
            "terms": sum(len(t.vocab) for t in self._tenants.values()),
            "bytes": sum(t.nbytes for t in self._tenants.values()),
            "from_snapshots": sum(t.snapshot_docs for t in self._tenants.values()),
        }


def bump_generation(tx: Tx, tenant: str) -> None:
    """Make every process reload ``tenant``'s index (documents were removed)."""
    tx.run(
        "INSERT INTO lexical_generations (tenant, generation) VALUES (?, 1) "
        "ON CONFLICT (tenant) DO UPDATE SET generation = generation + 1",
        (tenant,),
    )


def batch_row(
    tenant: str, pk: int, episode_id: UUID | str, texts: Sequence[tuple[int, str]]
) -> tuple[Any, ...]:
    """The ``lexical_batches`` row of an episode's texts ``(item, text)`` written together."""
    analysed = [analyse(text) for _, text in texts]
    return (
        tenant,
        pk,
        str(episode_id),
        len(texts),
        ",".join(str(item) for item, _ in texts),
        ",".join(str(length) for length, _ in analysed),
        "\n".join(terms_ for _, terms_ in analysed),
    )


def index_texts(
    tx: Tx, tenant: str, pk: int, episode_id: UUID, texts: Sequence[tuple[int, str]]
) -> None:
    """Store the analysed terms of texts written together, as one row: one insert per
    call however many steps it carries (FTS5 cost an index update per step)."""
    if texts:
        tx.run(INSERT_BATCH, batch_row(tenant, pk, episode_id, texts))


def index_many(
    tx: Tx, tenant: str, episodes: Sequence[tuple[int, UUID, Sequence[tuple[int, str]]]]
) -> None:
    """``index_texts`` for many new episodes ``(pk, id, texts)`` in one statement."""
    rows = [(pk, eid, texts) for pk, eid, texts in episodes if texts]
    tx.many(INSERT_BATCH, [batch_row(tenant, pk, eid, texts) for pk, eid, texts in rows])


def replace_task_text(tx: Tx, tenant: str, pk: int, text: str) -> None:
    """Re-index item 0 if its terms changed. Rare (the core never rewrites a task's
    description), so it rewrites the row in place and makes every process reload."""
    length, analysed = analyse(text)
    for seq, items, lengths, terms_ in tx.all(
        "SELECT seq, items, lengths, terms FROM lexical_batches WHERE episode_pk = ?", (pk,)
    ):
        numbers = str(items).split(",")
        if "0" not in numbers:
            continue
        at = numbers.index("0")
        texts, counts = str(terms_).split("\n"), str(lengths).split(",")
        if texts[at] == analysed:
            return
        texts[at], counts[at] = analysed, str(length)
        tx.run(
            "UPDATE lexical_batches SET lengths = ?, terms = ? WHERE seq = ?",
            (",".join(counts), "\n".join(texts), seq),
        )
        bump_generation(tx, tenant)
        return
