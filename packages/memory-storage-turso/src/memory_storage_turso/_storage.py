"""``LibSQLStorage``: the durable ``StorageBackend`` on a libSQL database.

Usage::

    from memory_core import MemoryConfig
    from memory_storage_turso import LibSQLStorage

    store = LibSQLStorage.from_url("file:./memory.db", MemoryConfig())

Every public method runs in one transaction (``_connection.Database``): reads see one
snapshot, writes take the write lock up front and commit all or nothing. Every write
also bumps the tenant's generation in the same transaction.

Over 400 lines because it is the one class that implements every role protocol
(``EpisodeStore``, ``SearchIndex``, ``PatternStore``, ``RecordStore``, ``Maintenance``)
over one connection and one transaction helper; the SQL of each area already lives in its
own module (``_lexical``, ``_fts``, ``_vectors``, ``_ann``, ``_filters``, ``_codec``), and what remains
here is the transaction boundary of each public method, which reads best in one place.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl
from uuid import UUID

import numpy as np
import numpy.typing as npt
from memory_core import (
    ConfigurationError,
    Episode,
    EpisodeFilter,
    EpisodeNotFoundError,
    EpisodePage,
    EpisodeStateError,
    EpisodeSummary,
    ExecutionStep,
    Heuristic,
    InvalidInputError,
    MemoryConfig,
    MemoryCoreError,
    Pattern,
    PatternFilter,
    PatternNotFoundError,
    StorageError,
)
from memory_core.errors import DuplicateStepError
from memory_core.models import (
    EmbeddingModelInfo,
    EmbeddingRecord,
    Extraction,
    SearchHit,
    StorageStats,
)
from memory_core.protocols import FloatArray, number_steps
from memory_core.security import database_key
from memory_core.text import terms

from memory_storage_turso._ann import ANN_MIN_ROWS, unit_rows
from memory_storage_turso._channels import ChannelThread
from memory_storage_turso._codec import decode_cursor, encode_cursor, ts
from memory_storage_turso._connection import Database, SideReads, Tx
from memory_storage_turso._decoded import Patterns, Summaries, held_and_unread, load_pattern
from memory_storage_turso._episode_json import dump_episode, load_episode, load_summary
from memory_storage_turso._filters import episode_where, pattern_where
from memory_storage_turso._fts import MAX_ITEM, match_expression, pattern_text
from memory_storage_turso._hit_pks import HitPks
from memory_storage_turso._lexical import (
    LexicalIndex,
    bump_generation,
    index_many,
    index_texts,
    replace_task_text,
)
from memory_storage_turso._raw_models import search_hits
from memory_storage_turso._schema import (
    LATEST,
    lexical_batches_stale,
    migrate,
    reconcile_lexical_batches,
)
from memory_storage_turso._url import SCHEMES, Target, create_parent_directory, parse_target
from memory_storage_turso._vectors import VectorIndex

"""Source episode ids kept per pattern (the newest)."""

_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


def _now() -> datetime:
    return datetime.now(UTC)


def _json_list(values: Sequence[Any]) -> str:
    return json.dumps([str(v) for v in values])


_uuid = lru_cache(maxsize=1 << 16)(UUID)
"""``UUID(text)``, remembered: a vector search parses up to 200 ids per query, and parsing
costs ~20x a lookup. UUIDs are immutable, so sharing them is safe."""


def _vector_sets(tx: Tx) -> list[tuple[str, str, int]]:
    """Every (tenant, model) holding vectors, with the dimension of its newest one, found
    by seeking the ``embeddings_matrix`` index from one pair to the next: a ``GROUP BY``
    read the whole index (4.5M entries at 1M episodes, 3.05 s of a cold open's 9.9)."""
    out: list[tuple[str, str, int]] = []
    pair = tx.one("SELECT tenant, model_id FROM embeddings ORDER BY tenant, model_id LIMIT 1")
    while pair is not None:
        tenant, model_id = str(pair[0]), str(pair[1])
        newest = tx.one(
            "SELECT dim FROM embeddings WHERE tenant = ? AND model_id = ? "
            "ORDER BY vid DESC LIMIT 1",
            (tenant, model_id),
        )
        if newest is not None:
            out.append((tenant, model_id, int(newest[0])))
        # Two seeks, not a row value: SQLite bounds ``(tenant, model_id) > (?, ?)`` by the
        # tenant alone and walks the pair's own entries (2.86 s at 1M, cold).
        same = tx.one(
            "SELECT model_id FROM embeddings WHERE tenant = ? AND model_id > ? "
            "ORDER BY model_id LIMIT 1",
            (tenant, model_id),
        )
        pair = (
            (tenant, same[0])
            if same is not None
            else tx.one(
                "SELECT tenant, model_id FROM embeddings WHERE tenant > ? "
                "ORDER BY tenant, model_id LIMIT 1",
                (tenant,),
            )
        )
    return out


def _check_limit(limit: int, field: str = "limit") -> None:
    if limit < 0:
        raise InvalidInputError(f"{field} must be ≥ 0 (got {limit})", field=field, limit=0)


_NO_VECTOR = (
    "NOT EXISTS (SELECT 1 FROM embeddings v "
    "WHERE v.episode_pk = e.pk AND v.item = 0 AND v.model_id = ?)"
)
"""No task-text vector of the model (one look-up in UNIQUE (episode_pk, item, model_id))."""
_NOTE_PENDING = "INSERT OR IGNORE INTO embedding_pending (episode_pk) VALUES (?)"
_SAVE_PATTERN = (
    "UPDATE patterns SET support = ?, successes = ?, applications = ?, "
    "application_successes = ?, confidence = ?, data = ? WHERE pk = ?"
)


def _vectors_stored(
    tx: Tx,
    records: Sequence[EmbeddingRecord],
    pks: dict[UUID, int],
    fresh: dict[UUID, int] | None,
) -> None:
    """Keep ``embedding_pending`` (schema 8) true after vectors are written: episodes
    with their task-text vector leave it (one created in this transaction was never in
    it), and other models are no longer caught up (these episodes were not noted for
    them)."""
    done = {pks[r.episode_id] for r in records if r.item == 0}
    new = set(fresh.values()) if fresh else set()
    tx.many("DELETE FROM embedding_pending WHERE episode_pk = ?", [(p,) for p in done - new])
    if done:
        models = sorted({r.model_id for r in records if r.item == 0})
        tx.run(
            "DELETE FROM embedding_caught_up WHERE slot = 0 AND model_id NOT IN "
            "(SELECT value FROM json_each(?))",
            (json.dumps(models),),
        )


PARALLEL_MIN_ROWS = 16_384
"""Vectors of a (tenant, model) from which ``search_channels`` runs the vector channel on
its own thread: below it the search costs about what the hand-off does."""


class LibSQLStorage:
    """Episodes, steps, patterns, heuristics and vectors in one libSQL database.

    Args:
        target: where to connect (``from_url`` builds it from ``DATABASE_URL``).
        busy_timeout_ms: how long a transaction may wait for another process's lock.
        synchronous: ``PRAGMA synchronous`` of a local file (``NORMAL``: durable against
            process crashes; ``FULL``: also against power loss).
        ann_min_rows: vectors of one (tenant, model) from which search goes through the
            approximate graph (``_ann.py``) instead of the exact scan.
    """

    name: ClassVar[str] = "libsql"
    schemes: ClassVar[tuple[str, ...]] = SCHEMES

    def __init__(
        self,
        target: Target,
        *,
        busy_timeout_ms: int = 5_000,
        synchronous: str = "NORMAL",
        ann_min_rows: int = ANN_MIN_ROWS,
    ) -> None:
        self._target = target
        self._db = Database(target, busy_timeout_ms, synchronous)
        try:
            self._version = migrate(self._db)
            # Texts written by a schema-3 release during a rolling update (it does not
            # know lexical_batches) become searchable here, at the next open.
            if self._db.read(lexical_batches_stale):
                self._db.write(reconcile_lexical_batches)
        except BaseException:
            self._db.close()
            raise
        local = target.is_local and target.database != ":memory:"
        # No graph file beside an encrypted database: it would hold its vectors in clear.
        persist = Path(target.database) if local and target.encryption_key is None else None
        # Background graph builds read a local file on a connection of their own.
        own = local and target.mode == "file"  # not a replica: it syncs on its one connection
        self._side = SideReads(target, busy_timeout_ms) if own else None
        # A query's vector channel runs beside its lexical one on a connection of its own.
        self._search_reads = SideReads(target, busy_timeout_ms) if own else None
        self._channels = ChannelThread()
        reads = self._side.read if self._side is not None else self._db.read
        self._vectors = VectorIndex(reads, persist, ann_min_rows)
        self._lexical = LexicalIndex(persist)  # snapshots: not beside an encrypted db
        self._allowed: tuple[tuple[Any, ...], int, npt.NDArray[np.int64]] | None = None
        """The last filter's matching pks: (tenant, where, params), tenant generation, pks."""
        self._summaries = Summaries()
        self._hit_pks = HitPks()  # the hits' pks: their summaries and steps read by pk
        self._patterns = Patterns()

    @classmethod
    def from_url(cls, url: str, config: MemoryConfig) -> LibSQLStorage:
        """Open (and migrate) the database ``url`` names.

        ``file:path[?synchronous=full]``, ``libsql://host``, ``https://host``,
        ``http://host``; the token comes from ``config.turso_auth_token``; a ``file:``
        URL with ``config.sync_url`` opens an embedded replica.
        """
        target = parse_target(url, config)
        synchronous = "NORMAL"
        if "?" in url:
            params = dict(parse_qsl(url.split("?", 1)[1]))
            synchronous = params.get("synchronous", synchronous).upper()
            if synchronous not in _SYNCHRONOUS:
                raise ConfigurationError(
                    f"DATABASE_URL synchronous= must be one of {', '.join(_SYNCHRONOUS)}",
                    key="DATABASE_URL",
                )
        create_parent_directory(target)
        if target.is_local and target.database != ":memory:":
            key = database_key(Path(target.database), config)
            if key is not None:
                target = replace(target, encryption_key=key)
        elif config.encrypt_database:
            raise ConfigurationError(
                "MEMORY_ENCRYPT_DATABASE applies to local files; a remote database is "
                "encrypted by its server",
                key="MEMORY_ENCRYPT_DATABASE",
            )
        return cls(target, busy_timeout_ms=config.busy_timeout_ms, synchronous=synchronous)

    def __repr__(self) -> str:
        return f"<LibSQLStorage {self._target.display}>"

    # -- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        self._channels.close()  # waits for a vector search in flight
        if self._search_reads is not None:
            self._search_reads.close()
        self._vectors.close()  # cancels a background graph build first: it reads the db
        if self._side is not None:
            self._side.close()
        self._lexical.wait()  # a snapshot being saved: seconds at most
        self._db.close()
        self._lexical.forget()
        self._summaries.clear()
        self._patterns.clear()

    @property
    def schema_version(self) -> int:
        return self._version

    def health(self) -> dict[str, Any]:
        try:
            self._db.read(lambda tx: tx.one("SELECT 1"))
        except (MemoryCoreError, ValueError) as exc:
            return {"ok": False, "backend": self.name, "mode": self._target.mode, "error": str(exc)}
        return {
            "ok": True,
            "backend": self.name,
            "mode": self._target.mode,
            "database": self._target.display,
            "schema_version": self._version,
        }

    # -- shared helpers ----------------------------------------------------------------
    @staticmethod
    def _bump(tx: Tx, tenant: str) -> None:
        tx.run(
            "INSERT INTO tenants (tenant, generation) VALUES (?, 1) "
            "ON CONFLICT (tenant) DO UPDATE SET generation = generation + 1",
            (tenant,),
        )

    @staticmethod
    def _generation(tx: Tx, tenant: str) -> int:
        """The tenant's write generation (``_bump``) in this transaction's snapshot."""
        row = tx.one("SELECT generation FROM tenants WHERE tenant = ?", (tenant,))
        return int(row[0]) if row else 0

    @staticmethod
    def _episode_row(tx: Tx, tenant: str, episode_id: UUID) -> tuple[Any, ...]:
        row = tx.one(
            "SELECT pk, status, pending_extraction, version, data, step_count "
            "FROM episodes WHERE tenant = ? AND id = ?",
            (tenant, str(episode_id)),
        )
        if row is None:
            raise EpisodeNotFoundError(episode_id)
        return row

    @staticmethod
    def _columns(episode: Episode, step_count: int, pending: bool) -> tuple[Any, ...]:
        c = episode.context
        return (
            episode.task_type.value,
            c.domain,
            c.language,
            c.framework,
            episode.status.value,
            episode.outcome.type.value if episode.outcome else None,
            ts(episode.started_at),
            ts(episode.completed_at) if episode.completed_at else None,
            step_count,
            1 if pending else 0,
            episode.version,
            dump_episode(episode),
        )

    @staticmethod
    def _write_tags(tx: Tx, tenant: str, pk: int, tags: Sequence[str]) -> None:
        tx.run("DELETE FROM episode_tags WHERE episode_pk = ?", (pk,))
        tx.many(
            "INSERT INTO episode_tags (tenant, tag, episode_pk) VALUES (?, ?, ?)",
            [(tenant, tag, pk) for tag in dict.fromkeys(tags)],
        )

    @staticmethod
    def _insert_steps(
        tx: Tx,
        tenant: str,
        pk: int,
        episode_id: UUID,
        steps: Sequence[ExecutionStep],
        task: str | None = None,
    ) -> None:
        """Insert steps and index their texts (and the ``task`` text as item 0 if given)."""
        tx.many(
            "INSERT INTO steps (episode_pk, step_number, data) VALUES (?, ?, ?)",
            [(pk, s.step_number, s.model_dump_json()) for s in steps],
        )
        texts = [(s.step_number, s.search_text()) for s in steps]
        index_texts(tx, tenant, pk, episode_id, texts if task is None else [(0, task), *texts])

    @staticmethod
    def _check_steps(steps: Sequence[ExecutionStep], field: str = "steps") -> None:
        seen: set[int] = set()
        for i, step in enumerate(steps):
            if step.step_number > MAX_ITEM:
                raise InvalidInputError(
                    f"step_number {step.step_number} is over the limit {MAX_ITEM}",
                    field=f"{field}[{i}].step_number",
                    limit=MAX_ITEM,
                )
            if step.step_number in seen:
                raise DuplicateStepError(
                    f"step {step.step_number} appears twice in {field} ({field}[{i}])"
                )
            seen.add(step.step_number)

    @staticmethod
    def _load_steps(tx: Tx, pk: int) -> list[ExecutionStep]:
        return [
            ExecutionStep.model_validate_json(data)
            for (data,) in tx.all(
                "SELECT data FROM steps WHERE episode_pk = ? ORDER BY step_number", (pk,)
            )
        ]

    @staticmethod
    def _summary(data: str, step_count: int) -> EpisodeSummary:
        return load_summary(data, step_count)

    # -- episodes --------------------------------------------------------------------
    def create_episode(self, episode: Episode) -> None:
        self._check_steps(episode.steps)
        steps = sorted(episode.steps, key=lambda s: s.step_number)
        self._db.write(partial(self._create, episode, steps))

    def _create(self, episode: Episode, steps: list[ExecutionStep], tx: Tx) -> None:
        tenant = episode.tenant
        row = tx.one(
            "SELECT pk, data FROM episodes WHERE tenant = ? AND id = ?", (tenant, str(episode.id))
        )
        if row is not None:
            stored = load_episode(row[1]).model_copy(update={"steps": self._load_steps(tx, row[0])})
            if stored == episode.model_copy(update={"steps": steps}):
                return
            raise InvalidInputError(
                f"episode {episode.id} already exists with different content", field="id"
            )
        pending = False
        row = tx.one(
            "INSERT INTO episodes (tenant, id, task_type, domain, language, framework, status, "
            "outcome, started_at, completed_at, step_count, pending_extraction, version, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk",
            (tenant, str(episode.id), *self._columns(episode, len(steps), pending)),
        )
        assert row is not None
        pk = int(row[0])
        if episode.outcome is not None:  # completed: its vectors come after this write
            tx.run(_NOTE_PENDING, (pk,))
        self._write_tags(tx, tenant, pk, episode.context.tags)
        self._insert_steps(tx, tenant, pk, episode.id, steps, task=episode.task_description)
        self._bump(tx, tenant)

    def import_batch(
        self, tenant: str, episodes: Sequence[Episode], extraction: Extraction
    ) -> list[Pattern]:
        """Insert new episodes exactly as given (any status) with one extraction for all
        of them in one transaction (the bulk path of ``SelfLearningMemory.import_episodes``);
        returns the patterns as stored (merged), so the caller need not read them back.

        Raises ``InvalidInputError`` naming ``episodes[i]`` (another tenant, an existing
        id, a bad step number); nothing of the batch is written then.
        """
        ordered: list[list[ExecutionStep]] = []
        for i, episode in enumerate(episodes):
            if episode.tenant != tenant:
                raise InvalidInputError(
                    f"episodes[{i}] belongs to tenant {episode.tenant!r}, not {tenant!r}",
                    field=f"episodes[{i}].tenant",
                )
            try:
                self._check_steps(episode.steps, f"episodes[{i}].steps")
            except DuplicateStepError as exc:
                raise InvalidInputError(str(exc), field=f"episodes[{i}].steps") from None
            ordered.append(sorted(episode.steps, key=lambda s: s.step_number))
        self._check_extraction(tenant, extraction)

        def op(tx: Tx) -> list[Pattern]:
            ids = [str(e.id) for e in episodes]
            taken = {
                r[0]
                for r in tx.all(
                    "SELECT id FROM episodes WHERE tenant = ? "
                    "AND id IN (SELECT value FROM json_each(?))",
                    (tenant, json.dumps(ids)),
                )
            }
            for i, eid in enumerate(ids):
                if eid in taken or eid in ids[:i]:
                    raise InvalidInputError(
                        f"an episode with id {eid} already exists", field=f"episodes[{i}].id"
                    )
            # The write lock is held (BEGIN IMMEDIATE), so the next pks are known and every
            # table gets one executemany for the whole batch instead of a few per episode.
            top = tx.one("SELECT coalesce(max(pk), 0) FROM episodes")
            first = int(top[0]) + 1 if top else 1
            pks = list(range(first, first + len(episodes)))
            tx.many(
                "INSERT INTO episodes (pk, tenant, id, task_type, domain, language, framework, "
                "status, outcome, started_at, completed_at, step_count, pending_extraction, "
                "version, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (pk, tenant, eid, *self._columns(e, len(steps), False))
                    for pk, eid, e, steps in zip(pks, ids, episodes, ordered, strict=True)
                ],
            )
            tx.many(
                "INSERT INTO episode_tags (tenant, tag, episode_pk) VALUES (?, ?, ?)",
                [
                    (tenant, tag, pk)
                    for pk, e in zip(pks, episodes, strict=True)
                    for tag in dict.fromkeys(e.context.tags)
                ],
            )
            tx.many(
                "INSERT INTO steps (episode_pk, step_number, data) VALUES (?, ?, ?)",
                [
                    (pk, s.step_number, s.model_dump_json())
                    for pk, steps in zip(pks, ordered, strict=True)
                    for s in steps
                ],
            )
            index_many(
                tx,
                tenant,
                [
                    (
                        pk,
                        e.id,
                        [(0, e.task_description)]
                        + [(s.step_number, s.search_text()) for s in steps],
                    )
                    for pk, e, steps in zip(pks, episodes, ordered, strict=True)
                ],
            )
            stored = self._upsert_patterns(tx, tenant, extraction.patterns)
            self._upsert_heuristics(tx, tenant, extraction.heuristics)
            self._write_embeddings(
                tx,
                tenant,
                extraction.embeddings,
                "extraction.embeddings",
                fresh=dict(zip([e.id for e in episodes], pks, strict=True)),
            )
            # Completed episodes that came without their task-text vector (the embedder
            # failed, or is off) are noted for the catch-up.
            embedded = {r.episode_id for r in extraction.embeddings if r.item == 0}
            tx.many(
                _NOTE_PENDING,
                [
                    (pk,)
                    for pk, e in zip(pks, episodes, strict=True)
                    if e.outcome is not None and e.id not in embedded
                ],
            )
            self._bump(tx, tenant)
            if extraction.embeddings:  # the graph follows the import (``VectorIndex.grown``)
                top = tx.one("SELECT max(vid) FROM embeddings")
                dims = {r.model_id: r.dimension for r in extraction.embeddings}
                for model_id, dim in dims.items():
                    self._vectors.grown(tenant, model_id, dim, int(top[0]) if top else 0)
            return stored

        return self._db.write(op)

    def append_steps(self, tenant: str, episode_id: UUID, steps: Sequence[ExecutionStep]) -> int:
        self._check_steps(steps)
        return self._db.write(partial(self._append, tenant, episode_id, list(steps)))

    def append_next_steps(
        self,
        tenant: str,
        episode_id: UUID,
        steps: Sequence[ExecutionStep],
        unnumbered: Sequence[int],
        prepare: Callable[[list[ExecutionStep]], list[ExecutionStep]] | None = None,
    ) -> tuple[int, list[ExecutionStep]]:
        # One BEGIN IMMEDIATE transaction reads the largest number and inserts after it:
        # a writer in another process waits for the lock instead of taking the same number.
        numbered: list[ExecutionStep] = []

        def number(top: int) -> list[ExecutionStep]:
            numbered[:] = number_steps(steps, unnumbered, top + 1)
            self._check_steps(numbered)
            return prepare(numbered) if prepare is not None else numbered

        count = self._db.write(partial(self._append, tenant, episode_id, [], number=number))
        return count, numbered

    def _append(
        self,
        tenant: str,
        episode_id: UUID,
        steps: list[ExecutionStep],
        tx: Tx,
        number: Callable[[int], list[ExecutionStep]] | None = None,
    ) -> int:
        row = tx.one(
            "SELECT pk, status, version, data, step_count, "
            "(SELECT COALESCE(MAX(step_number), 0) FROM steps WHERE episode_pk = e.pk) "
            "FROM episodes e WHERE tenant = ? AND id = ?",
            (tenant, str(episode_id)),
        )
        if row is None:
            raise EpisodeNotFoundError(episode_id)
        pk, status, version, data, count, top = row
        if status != "in_progress":
            raise EpisodeStateError(f"episode {episode_id} is completed; steps cannot be added")
        if number is not None:
            steps = number(int(top))
        if not steps:
            return int(count)
        # Only a number at or below the largest stored one can be taken (numbers given by
        # ``number`` are above it): a single unnumbered step needs no look-up.
        if any(s.step_number <= int(top) for s in steps):
            taken = tx.all(
                "SELECT step_number FROM steps WHERE episode_pk = ? "
                "AND step_number IN (SELECT value FROM json_each(?))",
                (pk, json.dumps([s.step_number for s in steps])),
            )
            if taken:
                numbers = ", ".join(str(r[0]) for r in sorted(taken))
                raise DuplicateStepError(f"episode {episode_id} already has step(s) {numbers}")
        self._insert_steps(tx, tenant, pk, episode_id, steps)
        count = int(count) + len(steps)
        episode = load_episode(data).model_copy(
            update={"version": int(version) + 1, "updated_at": _now()}
        )
        tx.run(
            "UPDATE episodes SET step_count = ?, version = ?, data = ? WHERE pk = ?",
            (count, episode.version, dump_episode(episode), pk),
        )
        self._bump(tx, tenant)
        return count

    def get_episode(self, tenant: str, episode_id: UUID) -> Episode | None:
        def op(tx: Tx) -> Episode | None:
            row = tx.one(
                "SELECT pk, data FROM episodes WHERE tenant = ? AND id = ?",
                (tenant, str(episode_id)),
            )
            if row is None:
                return None
            episode = load_episode(row[1])
            return episode.model_copy(update={"steps": self._load_steps(tx, row[0])})

        return self._db.read(op)

    def get_steps(
        self, tenant: str, episode_id: UUID, step_numbers: Sequence[int]
    ) -> list[ExecutionStep]:
        if not step_numbers:
            return []
        rows = self._db.read(
            lambda tx: tx.all(
                "SELECT s.data FROM steps s JOIN episodes e ON e.pk = s.episode_pk "
                "WHERE e.tenant = ? AND e.id = ? "
                "AND s.step_number IN (SELECT value FROM json_each(?)) ORDER BY s.step_number",
                (tenant, str(episode_id), json.dumps([int(n) for n in step_numbers])),
            )
        )
        return [ExecutionStep.model_validate_json(r[0]) for r in rows]

    def get_steps_many(
        self, tenant: str, wanted: Sequence[tuple[UUID, Sequence[int]]]
    ) -> dict[UUID, list[ExecutionStep]]:
        """``get_steps`` for several episodes in one statement (the query path's one read),
        the episodes a search just found looked up by pk (``_hit_pks``, as ``get_summaries``)."""
        numbers_of: dict[UUID, dict[int, None]] = {}
        for eid, numbers in wanted:
            numbers_of.setdefault(eid, {}).update(dict.fromkeys(int(n) for n in numbers))
        by_pk, rest = self._hit_pks.split((eid, str(eid)) for eid in numbers_of if numbers_of[eid])
        listed = {str(eid): list(ns) for eid, ns in numbers_of.items()}
        keyed = [[pk, t, n] for pk, t in by_pk.items() for n in listed[t]]
        if not keyed and not rest:
            return {}

        def op(tx: Tx) -> list[tuple[Any, ...]]:
            rows: list[tuple[Any, ...]] = []
            pairs = [[t, n] for t in rest for n in listed[t]]
            if keyed:  # a pk no longer that episode's (its id differs) finds nothing
                rows = tx.all(
                    "SELECT e.id, s.data FROM json_each(?) w "
                    "JOIN episodes e ON e.pk = w.value ->> 0 "
                    "AND +e.tenant = ? AND +e.id = w.value ->> 1 "
                    "JOIN steps s ON s.episode_pk = e.pk AND s.step_number = w.value ->> 2 "
                    "ORDER BY e.pk, s.step_number",
                    (json.dumps(keyed), tenant),
                )
                got = {r[0] for r in rows}
                pairs.extend([t, n] for t in by_pk.values() if t not in got for n in listed[t])
            if pairs:
                rows += tx.all(
                    "SELECT e.id, s.data FROM json_each(?) w "
                    "JOIN episodes e ON e.tenant = ? AND e.id = w.value ->> 0 "
                    "JOIN steps s ON s.episode_pk = e.pk AND s.step_number = w.value ->> 1 "
                    "ORDER BY e.pk, s.step_number",
                    (json.dumps(pairs), tenant),
                )
            return rows

        rows = self._db.read(op)
        out: dict[UUID, list[ExecutionStep]] = {}
        for eid, data in rows:
            out.setdefault(_uuid(eid), []).append(ExecutionStep.model_validate_json(data))
        return out

    def get_summaries(self, tenant: str, episode_ids: Sequence[UUID]) -> list[EpisodeSummary]:
        if not episode_ids:
            return []
        texts = [str(i) for i in episode_ids]  # once: str(UUID) is Python code
        held = self._summaries

        def op(tx: Tx) -> dict[str, EpisodeSummary]:
            # Episodes read before at this write generation are unchanged: only the others'
            # rows are read (``_decoded.Summaries``), by pk where a search just found them
            # (``_hit_pks``; the row must still be that episode's), else by id.
            generation = self._generation(tx, tenant)
            found, unread = held_and_unread(texts, lambda t: held.current(tenant, generation, t))
            if not unread:
                return found
            by_pk, rest = self._hit_pks.split(
                (i, t) for i, t in zip(episode_ids, texts, strict=True) if t not in found
            )
            rows: list[tuple[Any, ...]] = []
            if by_pk:
                rows = [
                    r
                    for r in tx.all(
                        # "+tenant": look rows up by pk, not scan the tenant's (outcome) index
                        "SELECT pk, id, data, step_count FROM episodes "
                        "WHERE pk IN (SELECT value FROM json_each(?)) AND +tenant = ?",
                        (json.dumps(list(by_pk)), tenant),
                    )
                    if by_pk.get(r[0]) == r[1]
                ]
                if len(rows) < len(by_pk):  # not that episode's pk any more: by id
                    got = {r[1] for r in rows}
                    rest += [t for t in by_pk.values() if t not in got]
            if rest:
                rows += tx.all(
                    "SELECT pk, id, data, step_count FROM episodes "
                    "WHERE tenant = ? AND id IN (SELECT value FROM json_each(?))",
                    (tenant, json.dumps(rest)),
                )
            for _, eid, data, step_count in rows:
                found[eid] = held.decoded(eid, data, int(step_count), tenant, generation)
            return found

        found = self._db.read(op)
        return [found[t] for t in texts if t in found]

    def list_episodes(
        self, tenant: str, filters: EpisodeFilter, limit: int, cursor: str | None = None
    ) -> EpisodePage:
        _check_limit(limit)
        where, params = episode_where(filters)
        if cursor is not None:
            started_at, last_id = decode_cursor(cursor)
            where += " AND (e.started_at, e.id) < (?, ?)"
            params += [started_at, last_id]
        rows = self._db.read(
            lambda tx: tx.all(
                "SELECT e.started_at, e.id, e.data, e.step_count FROM episodes e "
                f"WHERE e.tenant = ? AND {where} ORDER BY e.started_at DESC, e.id DESC LIMIT ?",
                (tenant, *params, limit + 1),
            )
        )
        items = [self._summary(r[2], int(r[3])) for r in rows[:limit]]
        next_cursor = (
            encode_cursor(rows[limit - 1][0], rows[limit - 1][1])
            if (len(rows) > limit and limit > 0)
            else None
        )
        return EpisodePage(items=items, next_cursor=next_cursor)

    def count_episodes(self, tenant: str, filters: EpisodeFilter) -> int:
        where, params = episode_where(filters)
        row = self._db.read(
            lambda tx: tx.one(
                f"SELECT count(*) FROM episodes e WHERE e.tenant = ? AND {where}",
                (tenant, *params),
            )
        )
        return int(row[0]) if row else 0

    def complete_episode(self, episode: Episode, extraction: Extraction | None) -> None:
        if episode.outcome is None:
            raise InvalidInputError("a completed episode needs an outcome", field="outcome")
        self._check_steps(episode.steps)
        if extraction is not None:
            self._check_extraction(episode.tenant, extraction)
        self._db.write(partial(self._complete, episode, extraction))

    def _complete(self, episode: Episode, extraction: Extraction | None, tx: Tx) -> None:
        tenant = episode.tenant
        pk, status, _, version, _, _ = self._episode_row(tx, tenant, episode.id)
        if status != "in_progress":
            raise EpisodeStateError(f"episode {episode.id} is already completed")
        stored = {
            int(r[0]) for r in tx.all("SELECT step_number FROM steps WHERE episode_pk = ?", (pk,))
        }
        self._insert_steps(
            tx, tenant, pk, episode.id, [s for s in episode.steps if s.step_number not in stored]
        )
        count_row = tx.one("SELECT count(*) FROM steps WHERE episode_pk = ?", (pk,))
        count = int(count_row[0]) if count_row else 0
        episode = episode.model_copy(update={"version": max(int(version) + 1, episode.version)})
        tx.run(
            "UPDATE episodes SET task_type = ?, domain = ?, language = ?, framework = ?, "
            "status = ?, outcome = ?, started_at = ?, completed_at = ?, step_count = ?, "
            "pending_extraction = ?, version = ?, data = ? WHERE pk = ?",
            (*self._columns(episode, count, extraction is None), pk),
        )
        self._write_tags(tx, tenant, pk, episode.context.tags)
        replace_task_text(tx, tenant, pk, episode.task_description)
        if extraction is not None:
            self._write_extraction(tx, tenant, extraction)
        self._bump(tx, tenant)

    def apply_extraction(self, tenant: str, episode_id: UUID, extraction: Extraction) -> None:
        self._check_extraction(tenant, extraction)

        def op(tx: Tx) -> None:
            row = tx.one(
                "SELECT pk, pending_extraction FROM episodes WHERE tenant = ? AND id = ?",
                (tenant, str(episode_id)),
            )
            if row is None or not row[1]:
                return
            self._write_extraction(tx, tenant, extraction)
            tx.run("UPDATE episodes SET pending_extraction = 0 WHERE pk = ?", (row[0],))
            self._bump(tx, tenant)

        self._db.write(op)

    def pending_extractions(self, limit: int = 100) -> list[tuple[str, UUID]]:
        _check_limit(limit)
        rows = self._db.read(
            lambda tx: tx.all(
                "SELECT tenant, id FROM episodes WHERE pending_extraction = 1 "
                "ORDER BY completed_at LIMIT ?",
                (limit,),
            )
        )
        return [(r[0], UUID(r[1])) for r in rows]

    def delete_episode(self, tenant: str, episode_id: UUID) -> bool:
        deleted = self._db.write(partial(self._delete, tenant, episode_id))
        self._summaries.forget(str(episode_id))  # its text is not kept in RAM either
        if deleted:
            self._lexical.discard_snapshot(tenant)
        return deleted

    def _delete(self, tenant: str, episode_id: UUID, tx: Tx) -> bool:
        row = tx.one(
            "SELECT pk FROM episodes WHERE tenant = ? AND id = ?", (tenant, str(episode_id))
        )
        if row is None:
            return False
        pk, eid = int(row[0]), str(episode_id)
        # Explicit deletes rather than relying on ON DELETE CASCADE: over a remote
        # connection PRAGMA foreign_keys does not persist between requests.
        tx.run("DELETE FROM lexical_batches WHERE episode_pk = ?", (pk,))
        bump_generation(tx, tenant)
        tx.run("DELETE FROM steps WHERE episode_pk = ?", (pk,))
        tx.run("DELETE FROM episode_tags WHERE episode_pk = ?", (pk,))
        for (model_id,) in tx.all(
            "SELECT DISTINCT model_id FROM embeddings WHERE episode_pk = ?", (pk,)
        ):
            self._bump_vectors(tx, tenant, model_id)
        tx.run("DELETE FROM embeddings WHERE episode_pk = ?", (pk,))
        # Usage records: drop them and take them out of the application counters.
        for ppk, success in tx.all(
            "SELECT pattern_pk, success FROM pattern_usage WHERE tenant = ? AND episode_id = ?",
            (tenant, eid),
        ):
            pattern = self._pattern_by_pk(tx, ppk)
            self._save_pattern(
                tx,
                ppk,
                pattern.model_copy(
                    update={
                        "applications": max(0, pattern.applications - 1),
                        "application_successes": max(
                            0, pattern.application_successes - int(success)
                        ),
                        "version": pattern.version + 1,
                        "updated_at": _now(),
                    }
                ),
            )
        tx.run("DELETE FROM pattern_usage WHERE tenant = ? AND episode_id = ?", (tenant, eid))
        # Pattern evidence: forget the episode id (the aggregate counts stay).
        for (ppk,) in tx.all(
            "SELECT pattern_pk FROM pattern_sources WHERE tenant = ? AND episode_id = ?",
            (tenant, eid),
        ):
            pattern = self._pattern_by_pk(tx, ppk)
            self._save_pattern(
                tx,
                ppk,
                pattern.model_copy(
                    update={
                        "episode_ids": [i for i in pattern.episode_ids if str(i) != eid],
                        "version": pattern.version + 1,
                        "updated_at": _now(),
                    }
                ),
            )
        tx.run("DELETE FROM pattern_sources WHERE tenant = ? AND episode_id = ?", (tenant, eid))
        tx.run(
            "DELETE FROM records WHERE tenant = ? AND (episode_id = ? OR related_id = ?)",
            (tenant, eid, eid),
        )
        tx.run("DELETE FROM episodes WHERE pk = ?", (pk,))
        self._bump(tx, tenant)
        return True

    # -- search ----------------------------------------------------------------------
    def lexical_search(
        self, tenant: str, query: str, limit: int, filters: EpisodeFilter
    ) -> list[SearchHit]:
        """BM25 over the tenant's in-process index (``_lexical.py``), brought up to date
        and filtered inside one read snapshot."""
        _check_limit(limit)
        query_terms = terms(query)
        if not query_terms or limit == 0:
            return []
        where, params = episode_where(filters)

        def op(tx: Tx) -> list[tuple[UUID, int, float, tuple[str, ...]]]:
            index = self._lexical.refreshed(tx, tenant)
            allowed = None
            if not filters.is_empty():
                allowed = self._allowed_pks(tx, tenant, where, params)
            return index.top_k(query_terms, limit, allowed, self._hit_pks)

        return search_hits(self._db.read(op))

    def _allowed_pks(
        self, tx: Tx, tenant: str, where: str, params: list[Any]
    ) -> npt.NDArray[np.int64]:
        """Pks of the tenant's episodes matching a filter, as one aggregated row (the
        binding costs ~3 µs per result row; thousands of allowed episodes are common).

        Both search channels of one query ask for the same filter: the last answer is
        kept with the tenant's write generation (bumped in the transaction of every write
        to the tenant's episodes, by any process), so the second channel reads one row
        instead of running the filter again."""
        generation = self._generation(tx, tenant)
        key = (tenant, where, *params)
        known = self._allowed
        if known is not None and known[0] == key and known[1] == generation:
            return known[2]
        row = tx.one(
            f"SELECT group_concat(e.pk) FROM episodes e WHERE e.tenant = ? AND {where}",
            (tenant, *params),
        )
        if row is None or row[0] is None:
            pks = np.empty(0, np.int64)
        else:
            pks = np.fromstring(str(row[0]), dtype=np.int64, sep=",")
        pks.setflags(write=False)  # shared by the channels: nobody may change it
        self._allowed = (key, generation, pks)
        return pks

    def warm(self, tenant: str | None = None, *, wait: bool = False) -> dict[str, Any]:
        """Load the in-process search indexes now instead of on the first search: the
        lexical index of ``tenant`` (every tenant when None) with the impact orders of its
        long lists, its vector matrices and the
        decoded summaries of its newest episodes (``_decoded.Summaries``; the first
        queries of a fresh process decoded 40% of the ~50 summaries each reads, 10K store).
        Servers can call this in the background after start-up. A vector graph that is
        missing or stale is built in the background; ``wait`` waits for it (and adopts
        it), as a benchmark or an import script may want: first for a build under way (a
        bulk import's: its rows are then not loaded into the exact matrix), then for one
        extending the graph with every row newer than it."""

        def op(tx: Tx) -> dict[str, Any]:
            tenants = (
                [r[0] for r in tx.all("SELECT tenant FROM tenants")] if tenant is None else [tenant]
            )
            for t in tenants:  # with its long lists' impact orders (``TenantIndex.prepare``)
                self._lexical.refreshed(tx, t).prepare()
            for t, model_id, dim in _vector_sets(tx):
                if t in tenants:
                    self._vectors.refreshed(tx, t, model_id, int(dim), complete=wait)
            for t in tenants:  # the newest episodes' summaries, decoded before any query
                if self._summaries.room <= 0:
                    break
                generation = self._generation(tx, t)
                for eid, data, step_count in tx.all(
                    "SELECT id, data, step_count FROM episodes WHERE tenant = ? "
                    "ORDER BY pk DESC LIMIT ?",
                    (t, self._summaries.room),
                ):
                    self._summaries.hold(eid, data, int(step_count), t, generation)
            return {"lexical": self._lexical.stats(), "vectors": self._vectors.stats()}

        if wait:  # first the builds under way (a bulk import's): adopted, not re-read
            self._vectors.wait()
        stats = self._db.read(op)
        if wait and self._vectors.wait():  # outside the read: the build reads the database
            stats = self._db.read(op)
        return stats

    def vector_search(
        self,
        tenant: str,
        model_id: str,
        vector: FloatArray,
        limit: int,
        filters: EpisodeFilter,
    ) -> list[SearchHit]:
        _check_limit(limit)
        query = self._query_vector(vector)
        if limit == 0:
            return []
        return self._vector_search(self._db.read, tenant, model_id, query, limit, filters)

    def search_channels(
        self,
        tenant: str,
        query: str,
        model_id: str,
        vector: FloatArray | Callable[[], FloatArray],
        limit: int,
        filters: EpisodeFilter,
    ) -> tuple[list[SearchHit], list[SearchHit]]:
        """``(lexical_search(...), vector_search(...))`` of one query, the vector channel
        on its own thread and connection when its search is worth one (``_channels``): a
        (tenant, model) with at least ``PARALLEL_MIN_ROWS`` vectors loaded, or a query
        still to be embedded (``vector`` a function: the embedding and the vector search
        run there while this thread runs the lexical one)."""
        reads = self._search_reads
        pending = callable(vector)
        if reads is None or (
            not pending and self._vectors.rows(tenant, model_id) < PARALLEL_MIN_ROWS
        ):
            lexical = self.lexical_search(tenant, query, limit, filters)
            row = vector() if callable(vector) else vector
            return lexical, self.vector_search(tenant, model_id, row, limit, filters)
        _check_limit(limit)

        def side() -> list[SearchHit]:  # the query embedded here too when it is pending
            q = self._query_vector(vector() if callable(vector) else vector)
            return self._vector_search(reads.read, tenant, model_id, q, limit, filters)

        return self._channels.beside(
            side, partial(self.lexical_search, tenant, query, limit, filters)
        )

    def item_vectors(
        self, tenant: str, model_id: str, keys: Sequence[tuple[UUID, int]]
    ) -> npt.NDArray[np.float32]:
        """``ItemVectors``: the unit rows of ``keys`` in order (zeros where none), for
        retrieval to score a query's phrases against the steps its vector search found.
        Served from the exact matrix the search just used where it holds them (every row
        below the graph's crossover), in the same snapshot as a search (the entry is
        brought up to date first); the rest, e.g. the graph's keys, in one read."""
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)

        def op(tx: Tx) -> npt.NDArray[np.float32]:
            row = tx.one(
                "SELECT dim FROM embeddings WHERE tenant = ? AND model_id = ? LIMIT 1",
                (tenant, model_id),
            )
            if row is None:
                return np.zeros((len(keys), 0), dtype=np.float32)
            dim = int(row[0])
            out = np.zeros((len(keys), dim), dtype=np.float32)
            entry = self._vectors.refreshed(tx, tenant, model_id, dim)
            missing = entry.unit_vectors(keys, out)
            if missing:
                read = self._read_item_vectors(
                    tx, tenant, model_id, [keys[n] for n in missing], dim
                )
                out[missing] = read
            return out

        return self._db.read(op)

    @staticmethod
    def _read_item_vectors(
        tx: Tx, tenant: str, model_id: str, keys: Sequence[tuple[UUID, int]], dim: int
    ) -> npt.NDArray[np.float32]:
        """The unit rows of ``keys`` read from ``embeddings`` (zeros where none)."""
        wanted = json.dumps([[str(e), i] for e, i in keys])
        rows = tx.all(
            # CROSS JOIN keeps the keys the outer loop: left to itself the planner
            # scans every vector of the model (embeddings_model) for each key
            "SELECT e.id, v.item, v.vector FROM json_each(?) k "
            "CROSS JOIN episodes e CROSS JOIN embeddings v "
            "WHERE e.tenant = ? AND e.id = json_extract(k.value, '$[0]') "
            "AND v.episode_pk = e.pk AND v.item = json_extract(k.value, '$[1]') "
            "AND v.model_id = ?",
            (wanted, tenant, model_id),
        )
        found = {(r[0], int(r[1])): r[2] for r in rows}
        out = np.zeros((len(keys), dim), dtype=np.float32)
        for n, (e, i) in enumerate(keys):
            blob = found.get((str(e), i))
            if blob is not None:
                out[n] = np.frombuffer(blob, dtype="<f4")
        return unit_rows(out)

    @staticmethod
    def _query_vector(vector: FloatArray) -> npt.NDArray[np.float32]:
        query = np.asarray(vector, dtype=np.float32)
        if query.ndim != 1 or query.size == 0:
            raise InvalidInputError(
                f"vector must be one non-empty row (got shape {query.shape})", field="vector"
            )
        if not np.isfinite(query).all():
            raise InvalidInputError("vector contains NaN or infinity", field="vector")
        return query

    def _vector_search(
        self,
        read: Callable[[Callable[[Tx], list[SearchHit]]], list[SearchHit]],
        tenant: str,
        model_id: str,
        query: npt.NDArray[np.float32],
        limit: int,
        filters: EpisodeFilter,
    ) -> list[SearchHit]:
        if limit == 0:
            return []
        where, params = episode_where(filters)

        def op(tx: Tx) -> list[SearchHit]:
            row = tx.one(
                "SELECT dim FROM embeddings WHERE tenant = ? AND model_id = ? LIMIT 1",
                (tenant, model_id),
            )
            if row is None:
                return []
            dim = int(row[0])
            if query.size != dim:
                raise InvalidInputError(
                    f"vector has {query.size} dimensions; {model_id} vectors have {dim}",
                    field="vector",
                    limit=dim,
                )
            entry = self._vectors.refreshed(tx, tenant, model_id, dim)
            allowed = None
            if not filters.is_empty():
                allowed = self._allowed_pks(tx, tenant, where, params)
            named: dict[int, UUID] = {}  # the graph's hits' episodes, by pk
            top = self._vectors.search(tx, entry, model_id, query, limit, allowed, named)
            if not top:
                return []
            rest = {t[0] for t in top if t[0] not in named}
            # The others read once per episode, not per hit.
            ids = entry.episode_ids(tx, rest) if rest else {}
            found = [
                (eid, item, score, pk)
                for pk, item, score in top
                if (eid := named.get(pk) or ids.get(pk)) is not None
            ]
            self._hit_pks.note((h[0].int, h[3]) for h in found)
            return search_hits((eid, item, score, ()) for eid, item, score, _ in found)

        return read(op)

    @staticmethod
    def _check_embeddings(records: Sequence[EmbeddingRecord], field: str) -> None:
        dims: dict[str, int] = {}
        for i, record in enumerate(records):
            if not record.model_id:
                raise InvalidInputError(
                    "model_id must not be empty", field=f"{field}[{i}].model_id"
                )
            if record.item > MAX_ITEM:
                raise InvalidInputError(
                    f"item {record.item} is over the limit {MAX_ITEM}",
                    field=f"{field}[{i}].item",
                    limit=MAX_ITEM,
                )
            size = len(record.vector)  # a list, or a row of an embedder's matrix
            if size == 0:
                raise InvalidInputError("vector must not be empty", field=f"{field}[{i}].vector")
            dim = dims.setdefault(record.model_id, size)
            if dim != size:
                raise InvalidInputError(
                    f"{record.model_id} vectors must all have {dim} dimensions",
                    field=f"{field}[{i}].vector",
                    limit=dim,
                )
        # One finiteness test for the whole batch (a bulk import passes thousands); the
        # loop below only runs to name the bad vector.
        same = len(set(dims.values())) == 1
        # float32 rows (what an embedder returns) are tested as they are; a float64
        # input is tested at its own precision (one that overflows float32 must fail).
        wide = any(getattr(r.vector, "dtype", None) != np.float32 for r in records)
        dtype = np.float64 if wide else np.float32
        if same and np.isfinite(np.asarray([r.vector for r in records], dtype)).all():
            return
        for i, record in enumerate(records):
            if not np.isfinite(np.asarray(record.vector, dtype=np.float64)).all():
                raise InvalidInputError(
                    "vector contains NaN or infinity", field=f"{field}[{i}].vector"
                )

    @staticmethod
    def _bump_vectors(tx: Tx, tenant: str, model_id: str) -> None:
        tx.run(
            "INSERT INTO vector_generations (tenant, model_id, generation) VALUES (?, ?, 1) "
            "ON CONFLICT (tenant, model_id) DO UPDATE SET generation = generation + 1",
            (tenant, model_id),
        )

    def _write_embeddings(
        self,
        tx: Tx,
        tenant: str,
        records: Sequence[EmbeddingRecord],
        field: str,
        *,
        fresh: dict[UUID, int] | None = None,
    ) -> None:
        """Insert (or replace) vectors; ``fresh``: the pks of episodes created in this
        transaction (their vectors are new: nothing to look up or replace)."""
        if not records:
            return
        pks: dict[UUID, int] = dict(fresh or {})
        for eid in dict.fromkeys(r.episode_id for r in records if r.episode_id not in pks):
            row = tx.one("SELECT pk FROM episodes WHERE tenant = ? AND id = ?", (tenant, str(eid)))
            if row is None:
                raise EpisodeNotFoundError(eid)
            pks[eid] = int(row[0])
        stored_dims: dict[str, int | None] = {}  # one look-up per model, not per vector
        for i, record in enumerate(records):
            if record.model_id not in stored_dims:
                row = tx.one(
                    "SELECT dim FROM embeddings WHERE model_id = ? LIMIT 1", (record.model_id,)
                )
                stored_dims[record.model_id] = int(row[0]) if row is not None else None
            dim = stored_dims[record.model_id]
            if dim is not None and dim != record.dimension:
                raise InvalidInputError(
                    f"{record.model_id} vectors have {dim} dimensions, not {record.dimension}",
                    field=f"{field}[{i}].vector",
                    limit=dim,
                )
        replaced: set[str] = set()
        for record in records:
            if fresh is not None and record.episode_id in fresh:
                continue
            # Delete-then-insert gives a replaced vector a new vid, and bumping the
            # generation makes every process's matrix reload instead of keeping the old row.
            if tx.run(
                "DELETE FROM embeddings WHERE episode_pk = ? AND item = ? AND model_id = ?",
                (pks[record.episode_id], record.item, record.model_id),
            ):
                replaced.add(record.model_id)
        tx.many(
            "INSERT INTO embeddings (tenant, episode_pk, item, model_id, dim, vector) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    tenant,
                    pks[r.episode_id],
                    r.item,
                    r.model_id,
                    r.dimension,
                    np.asarray(r.vector, dtype="<f4").tobytes(),
                )
                for r in records
            ],
        )
        for model_id in replaced:
            self._bump_vectors(tx, tenant, model_id)
        _vectors_stored(tx, records, pks, fresh)

    def put_embeddings(self, tenant: str, records: Sequence[EmbeddingRecord]) -> None:
        self._check_embeddings(records, "records")
        if not records:
            return

        def op(tx: Tx) -> None:
            self._write_embeddings(tx, tenant, records, "records")
            self._bump(tx, tenant)

        self._db.write(op)

    def embedding_models(self) -> list[EmbeddingModelInfo]:
        rows = self._db.read(
            lambda tx: tx.all(
                "SELECT model_id, dim, count(*) FROM embeddings GROUP BY model_id, dim "
                "ORDER BY model_id"
            )
        )
        return [
            EmbeddingModelInfo(model_id=r[0], dimension=int(r[1]), count=int(r[2])) for r in rows
        ]

    def delete_embeddings(self, model_id: str) -> int:
        def op(tx: Tx) -> int:
            tenants = [
                r[0]
                for r in tx.all(
                    "SELECT DISTINCT tenant FROM embeddings WHERE model_id = ?", (model_id,)
                )
            ]
            count = tx.run("DELETE FROM embeddings WHERE model_id = ?", (model_id,))
            for tenant in tenants:
                self._bump_vectors(tx, tenant, model_id)
                self._bump(tx, tenant)
            return count

        return self._db.write(op)

    def missing_embeddings(
        self, model_id: str, limit: int = 100, after: tuple[str, UUID] | None = None
    ) -> list[tuple[str, UUID]]:
        """Completed episodes without a task-text vector of ``model_id``, by (tenant, id)
        after ``after``. Reads the episodes noted in ``embedding_pending`` (schema 8);
        the first call for a model not caught up notes them with one full scan."""
        _check_limit(limit)
        tenant, eid = (after[0], str(after[1])) if after is not None else ("", "")

        caught_up = self._db.read(
            lambda tx: tx.one(
                "SELECT 1 FROM embedding_caught_up WHERE slot = 0 AND model_id = ?", (model_id,)
            )
        )
        scanned: tuple[int, list[int]] | None = None
        if caught_up is None:
            # A model's first walk: every episode probed once, in a read (writers go on);
            # the write below notes what it found.
            scanned = self._db.read(partial(self._without_vectors, model_id))

        def note(tx: Tx) -> None:
            # What no longer needs a vector (done, or not completed) leaves the table.
            tx.run(
                "DELETE FROM embedding_pending WHERE episode_pk IN (SELECT p.episode_pk "
                "FROM embedding_pending p LEFT JOIN episodes e ON e.pk = p.episode_pk "
                f"WHERE e.pk IS NULL OR e.outcome IS NULL OR NOT {_NO_VECTOR})",
                (model_id,),
            )
            if scanned is None:
                return
            top, pks = scanned
            tx.many(_NOTE_PENDING, [(p,) for p in pks])
            # A vector of another model stored since the scan took its episode off the
            # table unseen: then this model is not caught up yet (the next walk scans).
            if not tx.one(
                "SELECT 1 FROM embeddings WHERE vid > ? AND item = 0 AND model_id <> ? LIMIT 1",
                (top, model_id),
            ):
                tx.run(
                    "INSERT OR REPLACE INTO embedding_caught_up (slot, model_id) VALUES (0, ?)",
                    (model_id,),
                )

        if after is None or scanned is not None:  # a walk starts, or a model's first walk
            self._db.write(note)
        rows = self._db.read(  # CROSS JOIN: the small table leads (SQLite keeps the order)
            lambda tx: tx.all(
                "SELECT e.tenant, e.id FROM embedding_pending p CROSS JOIN episodes e "
                "ON e.pk = p.episode_pk WHERE (e.tenant, e.id) > (?, ?) "
                f"AND e.outcome IS NOT NULL AND {_NO_VECTOR} ORDER BY e.tenant, e.id LIMIT ?",
                (tenant, eid, model_id, limit),
            )
        )
        return [(r[0], UUID(r[1])) for r in rows]

    @staticmethod
    def _without_vectors(model_id: str, tx: Tx) -> tuple[int, list[int]]:
        """(the newest vector's vid, the completed episodes without a task-text vector of
        ``model_id``): one probe per episode."""
        top = tx.one("SELECT coalesce(max(vid), 0) FROM embeddings")
        pks = tx.all(
            f"SELECT e.pk FROM episodes e WHERE e.outcome IS NOT NULL AND {_NO_VECTOR}", (model_id,)
        )
        return (int(top[0]) if top else 0), [int(r[0]) for r in pks]

    # -- patterns and heuristics -------------------------------------------------------
    @staticmethod
    def _pattern_by_pk(tx: Tx, pk: int) -> Pattern:
        row = tx.one("SELECT data FROM patterns WHERE pk = ?", (pk,))
        assert row is not None
        return Pattern.model_validate_json(row[0])

    @staticmethod
    def _pattern_columns(p: Pattern) -> tuple[Any, ...]:
        return (
            p.support,
            p.successes,
            p.applications,
            p.application_successes,
            p.confidence,
            p.model_dump_json(),
        )

    def _save_pattern(self, tx: Tx, pk: int, pattern: Pattern) -> None:
        tx.run(_SAVE_PATTERN, (*self._pattern_columns(pattern), pk))

    @staticmethod
    def _check_extraction(tenant: str, extraction: Extraction) -> None:
        LibSQLStorage._check_embeddings(extraction.embeddings, "extraction.embeddings")

    def _write_extraction(self, tx: Tx, tenant: str, extraction: Extraction) -> None:
        self._upsert_patterns(tx, tenant, extraction.patterns)
        self._upsert_heuristics(tx, tenant, extraction.heuristics)
        self._write_embeddings(tx, tenant, extraction.embeddings, "extraction.embeddings")

    def _upsert_patterns(self, tx: Tx, tenant: str, patterns: Sequence[Pattern]) -> list[Pattern]:
        """Merge each pattern into the stored one of its key (or insert it), in order.
        The look-ups (by key, by id) and the source rows are one statement each for the
        whole list: a bulk import batch carries a few hundred patterns."""
        if not patterns:
            return []
        out: list[Pattern] = []
        now = _now()
        by_key: dict[str, tuple[int, str | Pattern]] = {  # stored JSON, or merged here
            r[0]: (int(r[1]), r[2])
            for r in tx.all(
                "SELECT key, pk, data FROM patterns WHERE tenant = ? "
                "AND key IN (SELECT value FROM json_each(?))",
                (tenant, json.dumps(list(dict.fromkeys(p.key for p in patterns)))),
            )
        }
        fresh_ids = [str(p.id) for p in patterns if p.key not in by_key]
        id_keys: dict[str, str] = {
            r[0]: r[1]
            for r in tx.all(
                "SELECT id, key FROM patterns WHERE tenant = ? "
                "AND id IN (SELECT value FROM json_each(?))",
                (tenant, json.dumps(fresh_ids)),
            )
        } if fresh_ids else {}  # fmt: skip
        sources: dict[int, list[UUID]] = {}
        before: dict[int, list[UUID]] = {}  # the source rows as stored, per pattern pk
        # Written with one executemany each (a bulk batch carries a few hundred patterns):
        # the inserts first, then the updates in order, so a key that comes twice ends
        # with its last merge. The write lock is held, so the next pks are known (what
        # SQLite would choose: patterns.pk is a plain rowid).
        inserts: list[tuple[Any, ...]] = []
        texts: list[tuple[int, str]] = []
        updates: dict[int, Pattern] = {}
        next_pk: int | None = None
        for incoming in patterns:
            known = by_key.get(incoming.key)
            if known is not None:
                pk, seen = known
                stored = seen if isinstance(seen, Pattern) else Pattern.model_validate_json(seen)
                before.setdefault(pk, stored.episode_ids)
                pattern = stored.merged_with(incoming, now)
                updates.pop(pk, None)  # keep the order of last writes
                updates[pk] = pattern
            else:
                pattern = incoming.as_new(tenant)
                if str(pattern.id) in id_keys:
                    raise InvalidInputError(
                        f"pattern id {pattern.id} is already used by another key", field="id"
                    )
                if next_pk is None:
                    top = tx.one("SELECT coalesce(max(pk), 0) FROM patterns")
                    next_pk = int(top[0]) + 1 if top else 1
                pk, next_pk = next_pk, next_pk + 1
                inserts.append(
                    (
                        pk,
                        tenant,
                        str(pattern.id),
                        pattern.key,
                        pattern.kind.value,
                        pattern.task_type.value if pattern.task_type else None,
                        pattern.domain,
                        *self._pattern_columns(pattern),
                    )
                )
                before[pk] = []  # nothing stored yet, even if the key comes again below
                id_keys[str(pattern.id)] = pattern.key
                text = pattern_text(pattern)
                if text:
                    texts.append((pk, text))
            by_key[pattern.key] = (pk, pattern)
            sources[pk] = pattern.episode_ids
            out.append(pattern)
        tx.many(
            "INSERT INTO patterns (pk, tenant, id, key, kind, task_type, domain, support, "
            "successes, applications, application_successes, confidence, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            inserts,
        )
        tx.many(_SAVE_PATTERN, [(*self._pattern_columns(p), pk) for pk, p in updates.items()])
        tx.many("INSERT INTO pattern_fts (rowid, text) VALUES (?, ?)", texts)
        # The rows mirror each pattern's ``episode_ids`` (every write keeps them equal), so
        # only the difference is written: a merge adds a source or two and drops as many,
        # where rewriting all of them cost up to 50 rows per pattern per write.
        gone: list[tuple[int, str]] = []
        added: list[tuple[int, str, str]] = []
        for pk, ids in sources.items():
            old = {str(i) for i in before.get(pk, ())}
            new = [str(i) for i in ids]
            gone += [(pk, i) for i in old.difference(new)]
            added += [(pk, tenant, i) for i in new if i not in old]
        tx.many("DELETE FROM pattern_sources WHERE pattern_pk = ? AND episode_id = ?", gone)
        tx.many(
            "INSERT OR IGNORE INTO pattern_sources (pattern_pk, tenant, episode_id) "
            "VALUES (?, ?, ?)",
            added,
        )
        return out

    def upsert_patterns(self, tenant: str, patterns: Sequence[Pattern]) -> list[Pattern]:
        if not patterns:
            return []

        def op(tx: Tx) -> list[Pattern]:
            out = self._upsert_patterns(tx, tenant, patterns)
            self._bump(tx, tenant)
            return out

        return self._db.write(op)

    def replace_patterns(
        self,
        tenant: str,
        patterns: Sequence[Pattern],
        *,
        delete_patterns: Sequence[UUID] = (),
        delete_heuristics: Sequence[UUID] = (),
    ) -> None:
        """Store patterns exactly as given and delete others, in one transaction (erasure
        takes an erased episode's contribution back out of shared patterns this way)."""
        for i, p in enumerate(patterns):
            if p.tenant != tenant:
                raise InvalidInputError(
                    f"patterns[{i}] belongs to tenant {p.tenant!r}, not {tenant!r}",
                    field=f"patterns[{i}].tenant",
                )

        def op(tx: Tx) -> None:
            self._replace(tx, tenant, patterns, delete_patterns, delete_heuristics)
            self._bump(tx, tenant)

        self._db.write(op)

    def _replace(
        self,
        tx: Tx,
        tenant: str,
        patterns: Sequence[Pattern],
        delete_patterns: Sequence[UUID],
        delete_heuristics: Sequence[UUID],
    ) -> None:
        for i, p in enumerate(patterns):
            row = tx.one(
                "SELECT pk, key FROM patterns WHERE tenant = ? AND id = ?", (tenant, str(p.id))
            )
            if row is None:
                continue
            if row[1] != p.key:
                raise InvalidInputError("a pattern's key cannot change", field=f"patterns[{i}].key")
            pk = int(row[0])
            self._save_pattern(tx, pk, p)
            tx.run("DELETE FROM pattern_fts WHERE rowid = ?", (pk,))
            text = pattern_text(p)
            if text:
                tx.run("INSERT INTO pattern_fts (rowid, text) VALUES (?, ?)", (pk, text))
            tx.run("DELETE FROM pattern_sources WHERE pattern_pk = ?", (pk,))
            tx.many(
                "INSERT INTO pattern_sources (pattern_pk, tenant, episode_id) VALUES (?, ?, ?)",
                [(pk, tenant, str(e)) for e in p.episode_ids],
            )
        for pid in delete_patterns:
            row = tx.one("SELECT pk FROM patterns WHERE tenant = ? AND id = ?", (tenant, str(pid)))
            if row is None:
                continue
            pk = int(row[0])
            tx.run("DELETE FROM pattern_fts WHERE rowid = ?", (pk,))
            tx.run("DELETE FROM pattern_sources WHERE pattern_pk = ?", (pk,))
            tx.run("DELETE FROM pattern_usage WHERE pattern_pk = ?", (pk,))
            tx.run("DELETE FROM patterns WHERE pk = ?", (pk,))
        for hid in delete_heuristics:
            tx.run("DELETE FROM heuristics WHERE tenant = ? AND id = ?", (tenant, str(hid)))

    def get_pattern(self, tenant: str, pattern_id: UUID) -> Pattern | None:
        row = self._db.read(
            lambda tx: tx.one(
                "SELECT data FROM patterns WHERE tenant = ? AND id = ?", (tenant, str(pattern_id))
            )
        )
        return Pattern.model_validate_json(row[0]) if row else None

    def pattern_usage_history(self, tenant: str, pattern_id: UUID, limit: int) -> list[bool]:
        if limit <= 0:
            return []
        rows = self._db.read(
            lambda tx: tx.all(
                "SELECT u.success FROM pattern_usage u JOIN patterns p ON p.pk = u.pattern_pk "
                "WHERE p.tenant = ? AND p.id = ? ORDER BY u.recorded_at DESC, u.episode_id DESC "
                "LIMIT ?",
                (tenant, str(pattern_id), limit),
            )
        )
        return [bool(r[0]) for r in reversed(rows)]

    def get_patterns(self, tenant: str, pattern_ids: Sequence[UUID]) -> list[Pattern]:
        if not pattern_ids:
            return []
        texts = [str(i) for i in pattern_ids]
        held = self._patterns

        def op(tx: Tx) -> dict[str, Pattern]:
            # Patterns read before at this write generation are unchanged: only the others'
            # rows are read (``_decoded.Patterns``).
            generation = self._generation(tx, tenant)
            found, unread = held_and_unread(texts, lambda t: held.current(tenant, generation, t))
            if unread:
                for pid, data in tx.all(
                    "SELECT id, data FROM patterns "
                    "WHERE tenant = ? AND id IN (SELECT value FROM json_each(?))",
                    (tenant, json.dumps(unread)),
                ):
                    found[pid] = held.decoded(pid, data, tenant, generation)
            return found

        found = self._db.read(op)
        return [found[t] for t in texts if t in found]

    def list_patterns(self, tenant: str, filters: PatternFilter, limit: int) -> list[Pattern]:
        _check_limit(limit)
        where, params = pattern_where(filters)
        rows = self._db.read(
            lambda tx: tx.all(
                f"SELECT p.data FROM patterns p WHERE p.tenant = ? AND {where} "
                "ORDER BY p.confidence DESC, p.support DESC, p.id LIMIT ?",
                (tenant, *params, limit),
            )
        )
        return [Pattern.model_validate_json(r[0]) for r in rows]

    def search_patterns(
        self, tenant: str, query: str, limit: int, filters: PatternFilter
    ) -> list[tuple[Pattern, float]]:
        _check_limit(limit)
        expression = match_expression(query)
        if expression is None or limit == 0:
            return []
        where, params = pattern_where(filters)
        # The best ``limit`` are chosen by (score, id) first and only their texts read:
        # sorting every match with its text copied each one into the sorter (a query's
        # terms match up to a thousand patterns; 0.7 -> 0.4 ms at 1,160 patterns).
        rows = self._db.read(
            lambda tx: tx.all(
                "SELECT p.data, score FROM (SELECT p.pk AS hit_pk, p.id AS hit_id, "
                "-bm25(pattern_fts) AS score FROM pattern_fts f JOIN patterns p ON p.pk = f.rowid "
                f"WHERE pattern_fts MATCH ? AND p.tenant = ? AND {where} "
                "ORDER BY score DESC, p.id LIMIT ?) JOIN patterns p ON p.pk = hit_pk "
                "ORDER BY score DESC, hit_id",
                (expression, tenant, *params, limit),
            )
        )
        return [(load_pattern(r[0]), float(r[1])) for r in rows]

    def record_pattern_usage(
        self, tenant: str, pattern_id: UUID, episode_id: UUID, success: bool
    ) -> Pattern:
        def op(tx: Tx) -> Pattern:
            row = tx.one(
                "SELECT pk, data FROM patterns WHERE tenant = ? AND id = ?",
                (tenant, str(pattern_id)),
            )
            if row is None:
                raise PatternNotFoundError(pattern_id)
            pk, pattern = int(row[0]), Pattern.model_validate_json(row[1])
            previous = tx.one(
                "SELECT success FROM pattern_usage WHERE pattern_pk = ? AND episode_id = ?",
                (pk, str(episode_id)),
            )
            applications = pattern.applications + (0 if previous else 1)
            successes = (
                pattern.application_successes + int(success) - (int(previous[0]) if previous else 0)
            )
            tx.run(
                "INSERT INTO pattern_usage (pattern_pk, tenant, episode_id, success, recorded_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (pattern_pk, episode_id) "
                "DO UPDATE SET success = excluded.success, recorded_at = excluded.recorded_at",
                (pk, tenant, str(episode_id), int(success), ts(_now())),
            )
            pattern = pattern.model_copy(
                update={
                    "applications": applications,
                    "application_successes": max(0, successes),
                    "version": pattern.version + 1,
                    "updated_at": _now(),
                }
            )
            self._save_pattern(tx, pk, pattern)
            self._bump(tx, tenant)
            return pattern

        return self._db.write(op)

    @staticmethod
    def _upsert_heuristics(tx: Tx, tenant: str, heuristics: Sequence[Heuristic]) -> None:
        tx.many(
            "INSERT INTO heuristics (tenant, key, id, confidence, data) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (tenant, key) DO UPDATE SET id = excluded.id, "
            "confidence = excluded.confidence, data = excluded.data",
            [
                (
                    tenant,
                    h.key,
                    str(h.id),
                    h.confidence,
                    h.model_copy(update={"tenant": tenant}).model_dump_json(),
                )
                for h in heuristics
            ],
        )

    def upsert_heuristics(self, tenant: str, heuristics: Sequence[Heuristic]) -> None:
        if not heuristics:
            return

        def op(tx: Tx) -> None:
            self._upsert_heuristics(tx, tenant, heuristics)
            self._bump(tx, tenant)

        self._db.write(op)

    def list_heuristics(
        self, tenant: str, limit: int, min_confidence: float = 0.0
    ) -> list[Heuristic]:
        _check_limit(limit)
        rows = self._db.read(
            lambda tx: tx.all(
                "SELECT data FROM heuristics WHERE tenant = ? AND confidence >= ? "
                "ORDER BY confidence DESC, key LIMIT ?",
                (tenant, min_confidence, limit),
            )
        )
        return [Heuristic.model_validate_json(r[0]) for r in rows]

    # -- records (the RecordStore extension) -------------------------------------------
    def put_record(
        self,
        tenant: str,
        kind: str,
        record_id: str,
        data: dict[str, Any],
        *,
        episode_id: UUID | None = None,
        related_id: UUID | None = None,
    ) -> None:
        text = self._record_json(data)

        def op(tx: Tx) -> None:
            self._put_record(tx, tenant, kind, record_id, text, episode_id, related_id)
            self._bump(tx, tenant)

        self._db.write(op)

    @staticmethod
    def _record_json(data: dict[str, Any]) -> str:
        try:
            return json.dumps(data, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"record data is not JSON: {exc}", field="data") from exc

    @staticmethod
    def _put_record(
        tx: Tx,
        tenant: str,
        kind: str,
        record_id: str,
        text: str,
        episode_id: UUID | None,
        related_id: UUID | None,
    ) -> None:
        tx.run(
            "INSERT INTO records (tenant, kind, id, episode_id, related_id, data) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, kind, id) DO UPDATE SET "
            "episode_id = excluded.episode_id, related_id = excluded.related_id, "
            "data = excluded.data",
            (
                tenant,
                kind,
                record_id,
                str(episode_id) if episode_id else None,
                str(related_id) if related_id else None,
                text,
            ),
        )

    def get_record(self, tenant: str, kind: str, record_id: str) -> dict[str, Any] | None:
        row = self._db.read(
            lambda tx: tx.one(
                "SELECT data FROM records WHERE tenant = ? AND kind = ? AND id = ?",
                (tenant, kind, record_id),
            )
        )
        return dict(json.loads(row[0])) if row else None

    def list_records(
        self,
        tenant: str,
        kind: str,
        *,
        episode_id: UUID | None = None,
        limit: int = 100,
        after_seq: int = 0,
    ) -> list[tuple[int, str, dict[str, Any]]]:
        _check_limit(limit)
        if episode_id is None:
            sql = (
                "SELECT seq, id, data FROM records WHERE tenant = ?1 AND kind = ?2 AND seq > ?3 "
                "ORDER BY seq LIMIT ?4"
            )
            params: tuple[Any, ...] = (tenant, kind, after_seq, limit)
        else:
            # One indexed lookup per episode column: with ``episode_id = ? OR related_id
            # = ?`` the planner walks every record of the kind (records_kind) instead.
            sql = (
                "SELECT seq, id, data FROM records WHERE tenant = ?1 AND episode_id = ?5 "
                "AND kind = ?2 AND seq > ?3 UNION SELECT seq, id, data FROM records "
                "WHERE tenant = ?1 AND related_id = ?5 AND kind = ?2 AND seq > ?3 "
                "ORDER BY seq LIMIT ?4"
            )
            params = (tenant, kind, after_seq, limit, str(episode_id))
        rows = self._db.read(lambda tx: tx.all(sql, params))
        return [(int(r[0]), str(r[1]), dict(json.loads(r[2]))) for r in rows]

    def delete_record(self, tenant: str, kind: str, record_id: str) -> bool:
        def op(tx: Tx) -> bool:
            gone = tx.run(
                "DELETE FROM records WHERE tenant = ? AND kind = ? AND id = ?",
                (tenant, kind, record_id),
            )
            if gone:
                self._bump(tx, tenant)
            return gone > 0

        return self._db.write(op)

    def update_episode_tags(self, tenant: str, episode_id: UUID, tags: Sequence[str]) -> Episode:
        def op(tx: Tx) -> Episode:
            pk, _, _, version, data, _ = self._episode_row(tx, tenant, episode_id)
            stored = load_episode(data)
            context = stored.context.model_copy(update={"tags": list(tags)})
            episode = stored.model_copy(
                update={"context": context, "version": int(version) + 1, "updated_at": _now()}
            )
            tx.run(
                "UPDATE episodes SET version = ?, data = ? WHERE pk = ?",
                (episode.version, dump_episode(episode), pk),
            )
            self._write_tags(tx, tenant, pk, episode.context.tags)
            self._bump(tx, tenant)
            return episode.model_copy(update={"steps": self._load_steps(tx, pk)})

        return self._db.write(op)

    def correct_episode(
        self,
        episode: Episode,
        extraction: Extraction,
        *,
        replace_patterns: Sequence[Pattern] = (),
        delete_patterns: Sequence[UUID] = (),
        delete_heuristics: Sequence[UUID] = (),
        record: tuple[str, str, dict[str, Any]] | None = None,
    ) -> Episode:
        """See ``RecordStore.correct_episode``: one write transaction (``update_episode``
        used to delete and re-create the episode, which a crash could cut in half)."""
        tenant = episode.tenant
        if episode.outcome is None:
            raise InvalidInputError("a corrected episode needs an outcome", field="outcome")
        for i, p in enumerate(replace_patterns):
            if p.tenant != tenant:
                raise InvalidInputError(
                    f"replace_patterns[{i}] belongs to tenant {p.tenant!r}, not {tenant!r}",
                    field=f"replace_patterns[{i}].tenant",
                )
        self._check_extraction(tenant, extraction)
        text = None if record is None else self._record_json(record[2])

        def op(tx: Tx) -> Episode:
            pk, status, pending, version, data, _ = self._episode_row(tx, tenant, episode.id)
            if status == "in_progress":
                raise EpisodeStateError(f"episode {episode.id} is not completed")
            if pending:
                raise EpisodeStateError(f"episode {episode.id} has a pending extraction")
            assert episode.outcome is not None
            stored = load_episode(data).model_copy(
                update={
                    "outcome": episode.outcome,
                    "reward": episode.reward,
                    "reflection": episode.reflection,
                    "metadata": episode.metadata,
                    "pattern_ids": list(episode.pattern_ids),
                    "version": int(version) + 1,
                    "updated_at": _now(),
                }
            )
            tx.run(
                "UPDATE episodes SET outcome = ?, version = ?, data = ? WHERE pk = ?",
                (episode.outcome.type.value, stored.version, dump_episode(stored), pk),
            )
            self._replace(tx, tenant, replace_patterns, delete_patterns, delete_heuristics)
            self._write_extraction(tx, tenant, extraction)
            if record is not None and text is not None:
                self._put_record(tx, tenant, record[0], record[1], text, None, None)
            self._bump(tx, tenant)
            return stored.model_copy(update={"steps": self._load_steps(tx, pk)})

        return self._db.write(op)

    # -- operations ------------------------------------------------------------------
    def stats(self, tenant: str | None = None) -> StorageStats:
        scope, params = ("WHERE tenant = ?", (tenant,)) if tenant is not None else ("", ())

        def count(tx: Tx, sql: str) -> int:
            row = tx.one(sql, params)
            return int(row[0]) if row and row[0] is not None else 0

        def op(tx: Tx) -> StorageStats:
            episodes_where = scope or "WHERE 1"
            stats = StorageStats(
                episodes=count(tx, f"SELECT count(*) FROM episodes {scope}"),
                completed_episodes=count(
                    tx, f"SELECT count(*) FROM episodes {episodes_where} AND status = 'completed'"
                ),
                steps=count(tx, f"SELECT sum(step_count) FROM episodes {scope}"),
                patterns=count(tx, f"SELECT count(*) FROM patterns {scope}"),
                heuristics=count(tx, f"SELECT count(*) FROM heuristics {scope}"),
                embeddings=count(tx, f"SELECT count(*) FROM embeddings {scope}"),
                pending_extractions=count(
                    tx, f"SELECT count(*) FROM episodes {episodes_where} AND pending_extraction = 1"
                ),
                schema_version=self._version,
            )
            if self._target.is_local:
                pages = tx.one("PRAGMA page_count")
                size = tx.one("PRAGMA page_size")
                if pages and size:
                    stats.size_bytes = int(pages[0]) * int(size[0])
            return stats

        stats = self._db.read(op)
        stats.details = {
            "mode": self._target.mode,
            "lock_retries": self._db.retries,
            "vector_cache": self._vectors.stats(),
            "lexical_index": self._lexical.stats(),
        }
        return stats

    def generation(self, tenant: str) -> int:
        row = self._db.read(
            lambda tx: tx.one("SELECT generation FROM tenants WHERE tenant = ?", (tenant,))
        )
        return int(row[0]) if row else 0

    # -- operator extension (called by the CLI via getattr) ----------------------------
    def integrity_check(self) -> dict[str, Any]:
        """``PRAGMA integrity_check``, FTS5's own check of ``pattern_fts``, and that every
        episode has one indexed text per step plus its task (and no index row outlives its
        episode)."""
        messages = [str(r[0]) for r in self._db.autocommit("PRAGMA integrity_check")]
        ok = messages == ["ok"]
        fts: dict[str, str] = {}
        for table in ("pattern_fts",):
            try:
                self._db.autocommit(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")
                fts[table] = "ok"
            except StorageError as exc:
                fts[table] = str(exc)
                ok = False
        wrong = self._db.autocommit(
            "SELECT count(*) FROM episodes e WHERE 1 + (SELECT count(*) FROM steps s "
            "WHERE s.episode_pk = e.pk) != (SELECT coalesce(sum(d.n), 0) FROM "
            "lexical_batches d WHERE d.episode_pk = e.pk)"
        )
        orphans = self._db.autocommit(
            "SELECT count(*) FROM lexical_batches d WHERE NOT EXISTS "
            "(SELECT 1 FROM episodes e WHERE e.pk = d.episode_pk AND e.tenant = d.tenant)"
        )
        problems = int(wrong[0][0]) + int(orphans[0][0])
        lexical = (
            "ok"
            if problems == 0
            else f"{wrong[0][0]} episodes indexed incompletely, {orphans[0][0]} orphan index rows"
        )
        ok = ok and problems == 0
        return {"ok": ok, "messages": messages, "fts": fts, "lexical": lexical}

    def vacuum(self) -> dict[str, Any]:
        """Merge FTS segments, rebuild the file without free pages, checkpoint the WAL."""
        self._require_local("vacuum")
        before = self.stats().size_bytes
        self._db.autocommit("INSERT INTO pattern_fts (pattern_fts) VALUES ('optimize')")
        self._db.autocommit("VACUUM")
        self._db.autocommit("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.autocommit("PRAGMA optimize")
        return {"size_before": before, "size_after": self.stats().size_bytes}

    def scrub(self) -> dict[str, Any]:
        """Make what was just deleted unreadable in the files, cheaply enough for every
        delete (no VACUUM): ``secure_delete`` already zeroed the freed cells and pages;
        ``pattern_fts`` keeps a deleted row's terms in its segments until a merge, so it
        is merged (patterns are few); the write-ahead log, which still holds the pages as
        they were before the delete, is checkpointed into the file and truncated.

        Returns ``{"scrubbed": bool, "wal_frames": int}``; ``scrubbed`` is false when other
        connections kept the log busy for the whole busy timeout (logged as a warning).
        """
        if self._target.mode != "file":
            return {"scrubbed": False, "wal_frames": 0}
        self._db.autocommit("INSERT INTO pattern_fts (pattern_fts) VALUES ('optimize')")
        return self._db.truncate_wal()

    def backup(self, path: str | Path) -> dict[str, Any]:
        """A consistent snapshot of the live database into a new file (``VACUUM INTO``);
        writers are not blocked. The target must not exist."""
        self._require_local("backup")
        target = Path(path)
        if target.exists():
            raise InvalidInputError(f"backup target already exists: {target}", field="path")
        if not target.parent.is_dir():
            raise InvalidInputError(
                f"backup directory does not exist: {target.parent}", field="path"
            )
        self._db.autocommit("VACUUM INTO ?", (str(target),))
        return {"path": str(target), "size_bytes": target.stat().st_size}

    def sync(self) -> dict[str, Any]:
        """Pull new frames from the primary into an embedded replica. A no-op (``synced:
        False``) for a plain local file or a remote database, which need no sync."""
        if self._target.mode != "replica":
            return {"synced": False, "mode": self._target.mode}
        self._db.sync()
        self._vectors.forget()
        self._lexical.forget()
        return {"synced": True, "mode": self._target.mode}

    def _require_local(self, what: str) -> None:
        if not self._target.is_local:
            raise StorageError(
                f"{what} runs on a local file; for a remote database use the server's tools"
            )


__all__ = ["LATEST", "LibSQLStorage"]
