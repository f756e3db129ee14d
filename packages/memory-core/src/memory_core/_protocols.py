"""The contracts that plugins implement: durable storage, cache, embeddings.

Plugins register a class (or factory) under an entry-point group:

=========================  ===========================================  ==================
group                      object                                       built by
=========================  ===========================================  ==================
``memory_core.storage``    ``StorageBackend`` factory                    ``factory.from_url(url, config)``
``memory_core.cache``      ``CacheBackend`` factory                      ``factory.from_config(config)``
``memory_core.embeddings`` ``EmbeddingProvider`` factory                 ``factory.from_config(config)``
=========================  ===========================================  ==================

General rules for every backend method:

* Tenancy: every method that touches records takes ``tenant`` first and must scope the
  query itself by it (``WHERE tenant = ?``), never filter afterwards.
* Atomicity: a method either takes full effect or none; on failure it raises a
  ``memory_core`` error (``StorageError`` for engine failures), chained to the engine's.
* Thread safety: the core serialises its own calls, but front ends may read from other
  threads at the same time (e.g. the MCP server verifying tokens through the
  ``RecordStore`` methods), so a backend must tolerate concurrent calls (the bundled
  backends hold a lock per instance).
* Durability: when a write method returns, the write survives a process crash.

Why this module is longer than ~400 lines: it is the written contract, one small
protocol per role, and each method's docstring states the rule a backend must keep;
the lines are those rules, not code (``memory_core.testing`` holds the suites).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable
from uuid import UUID

from memory_core._models import (
    CacheKind,
    CacheStats,
    EmbeddingModelInfo,
    EmbeddingRecord,
    Episode,
    EpisodeFilter,
    EpisodePage,
    EpisodeSummary,
    ExecutionStep,
    Extraction,
    Heuristic,
    Pattern,
    PatternFilter,
    SearchHit,
    StorageStats,
)

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import numpy.typing as npt

    from memory_core._config import MemoryConfig

    FloatArray = npt.NDArray[np.float32]
else:  # numpy stays out of import time (server start-up); the alias is for type checkers
    FloatArray = "numpy.typing.NDArray[numpy.float32]"

__all__ = [
    "CacheBackend",
    "CacheCompactor",
    "CacheFactory",
    "ChannelSearch",
    "EmbeddingProvider",
    "EmbeddingProviderFactory",
    "EpisodeStore",
    "FloatArray",
    "IndexWarmer",
    "ItemVectors",
    "Lifecycle",
    "Maintenance",
    "PatternStore",
    "RecordStore",
    "Scrubber",
    "SearchIndex",
    "SensitiveStore",
    "StorageBackend",
    "StorageFactory",
]


@runtime_checkable
class Lifecycle(Protocol):
    """Opening, closing and probing a store; counts and the write generation."""

    name: ClassVar[str]

    def close(self) -> None:
        """Release connections. Idempotent."""

    @property
    def schema_version(self) -> int:
        """Schema version of the opened database (after migrations)."""
        ...

    def health(self) -> dict[str, Any]:
        """Cheap liveness probe: ``{"ok": bool, ...details}``; never raises."""
        ...

    def stats(self, tenant: str | None = None) -> StorageStats:
        """Counts for one tenant, or for all tenants with ``None`` (operators only)."""
        ...

    def generation(self, tenant: str) -> int:
        """A counter that increases with every write to the tenant (cache validation)."""
        ...


@runtime_checkable
class EpisodeStore(Protocol):
    """Episodes and their steps: the record of what an agent did."""

    def create_episode(self, episode: Episode) -> None:
        """Insert a new episode as given: usually in progress with no steps, but steps
        and (for imports) a completed outcome, reward and reflection are stored too.

        Idempotent for an identical re-insert of the same id; a different episode with an
        existing id raises ``InvalidInputError(field="id")``.
        """

    def append_steps(self, tenant: str, episode_id: UUID, steps: Sequence[ExecutionStep]) -> int:
        """Append steps to an in-progress episode in one transaction; returns the new count.

        Raises ``EpisodeNotFoundError`` (unknown in this tenant), ``EpisodeStateError``
        (completed), ``DuplicateStepError`` (a step number already stored: nothing of the
        batch is written). Steps are returned by reads ordered by ``step_number``.
        """
        ...

    def append_next_steps(
        self,
        tenant: str,
        episode_id: UUID,
        steps: Sequence[ExecutionStep],
        unnumbered: Sequence[int],
        prepare: Callable[[list[ExecutionStep]], list[ExecutionStep]] | None = None,
    ) -> tuple[int, list[ExecutionStep]]:
        """``append_steps``, where the steps at the indexes ``unnumbered`` get their numbers
        in the same transaction as the insert: ``memory_core.protocols.number_steps(steps,
        unnumbered, <largest stored number> + 1)``. Writers in several processes on one
        store therefore never collide. ``prepare``, if given, maps the numbered steps to
        what is written, inside the transaction (the encrypting wrapper seals each step
        bound to its number). Returns the new count and the numbered steps (before
        ``prepare``).

        Raises as ``append_steps``; ``DuplicateStepError`` only when an explicit number of
        the batch is already stored or meets an assigned one.
        """
        ...

    def get_episode(self, tenant: str, episode_id: UUID) -> Episode | None:
        """The full episode with its steps ordered by step number, or ``None``."""
        ...

    def get_steps(
        self, tenant: str, episode_id: UUID, step_numbers: Sequence[int]
    ) -> list[ExecutionStep]:
        """The given steps of one episode (unknown numbers are skipped), by step number."""
        ...

    def get_steps_many(
        self, tenant: str, wanted: Sequence[tuple[UUID, Sequence[int]]]
    ) -> dict[UUID, list[ExecutionStep]]:
        """``get_steps`` for several episodes in one read (the query path shows the chosen
        steps of every hit): by episode id, each list by step number; episodes with none
        of the asked steps are absent."""
        ...

    def get_summaries(self, tenant: str, episode_ids: Sequence[UUID]) -> list[EpisodeSummary]:
        """Summaries for the ids that exist in this tenant, in the order asked."""
        ...

    def list_episodes(
        self, tenant: str, filters: EpisodeFilter, limit: int, cursor: str | None = None
    ) -> EpisodePage:
        """Summaries newest first (``started_at`` desc, then id); ``next_cursor`` pages on.

        The cursor is opaque to callers; an invalid cursor raises ``InvalidInputError``.
        """
        ...

    def count_episodes(self, tenant: str, filters: EpisodeFilter) -> int: ...

    def complete_episode(self, episode: Episode, extraction: Extraction | None) -> None:
        """Store a completed episode (outcome, reward, reflection, pattern ids) atomically.

        With ``extraction`` the patterns (merged, see ``upsert_patterns``), heuristics and
        embeddings are written in the same transaction. Without it the episode is marked
        as pending extraction, to be finished by ``apply_extraction``. Raises
        ``EpisodeNotFoundError`` or ``EpisodeStateError`` if already completed.
        """

    def apply_extraction(self, tenant: str, episode_id: UUID, extraction: Extraction) -> None:
        """Write a pending episode's extraction and clear its pending mark, atomically.

        Idempotent: for an episode no longer pending it does nothing.
        """

    def pending_extractions(self, limit: int = 100) -> list[tuple[str, UUID]]:
        """(tenant, episode id) of completed episodes whose extraction did not finish."""
        ...

    def delete_episode(self, tenant: str, episode_id: UUID) -> bool:
        """Erase an episode from every table and index (steps, FTS, vectors, usage,
        pattern sources). Returns whether it existed."""
        ...


@runtime_checkable
class SearchIndex(Protocol):
    """Both retrieval channels over episodes: lexical (BM25) and vectors."""

    def lexical_search(
        self, tenant: str, query: str, limit: int, filters: EpisodeFilter
    ) -> list[SearchHit]:
        """Full-text search (BM25, OR of the query's terms) over task texts (item 0) and
        step texts (item = step number) of episodes matching ``filters``; best first."""
        ...

    def vector_search(
        self,
        tenant: str,
        model_id: str,
        vector: FloatArray,
        limit: int,
        filters: EpisodeFilter,
    ) -> list[SearchHit]:
        """Exact top-``limit`` items by cosine similarity among vectors of ``model_id``
        (never another model's) of episodes matching ``filters``; best first. An
        approximate index may be used only where it returns the same top-k."""
        ...

    def put_embeddings(self, tenant: str, records: Sequence[EmbeddingRecord]) -> None:
        """Insert or replace vectors keyed by (tenant, episode, item, model_id)."""

    def embedding_models(self) -> list[EmbeddingModelInfo]:
        """Which models the stored vectors come from, with dimension and count."""
        ...

    def delete_embeddings(self, model_id: str) -> int:
        """Drop every vector of a model (before re-embedding); returns how many."""
        ...

    def missing_embeddings(
        self, model_id: str, limit: int = 100, after: tuple[str, UUID] | None = None
    ) -> list[tuple[str, UUID]]:
        """(tenant, episode id) of completed episodes with no ``model_id`` vector for their
        task text (item 0), ordered by (tenant, str(id)), strictly after ``after``: what
        the embedding worker must still embed after a crash or a change of model."""
        ...


@runtime_checkable
class PatternStore(Protocol):
    """What was learned: patterns (merged by key) and heuristics."""

    def upsert_patterns(self, tenant: str, patterns: Sequence[Pattern]) -> list[Pattern]:
        """Merge on write: a pattern whose ``key`` exists adds its support, successes and
        source episode ids (newest 50 kept) to the stored one; others are inserted.
        Returns the stored state of each, in order."""
        ...

    def get_pattern(self, tenant: str, pattern_id: UUID) -> Pattern | None: ...

    def get_patterns(self, tenant: str, pattern_ids: Sequence[UUID]) -> list[Pattern]:
        """Patterns that exist, in the order asked."""
        ...

    def list_patterns(self, tenant: str, filters: PatternFilter, limit: int) -> list[Pattern]:
        """Patterns matching filters, by confidence then support, descending."""
        ...

    def search_patterns(
        self, tenant: str, query: str, limit: int, filters: PatternFilter
    ) -> list[tuple[Pattern, float]]:
        """Full-text search over pattern descriptions (BM25, higher is better)."""
        ...

    def record_pattern_usage(
        self, tenant: str, pattern_id: UUID, episode_id: UUID, success: bool
    ) -> Pattern:
        """Record that a pattern was applied in an episode, with its result.

        Idempotent per (pattern, episode): recording again replaces the earlier result
        and the counters stay consistent. Raises ``PatternNotFoundError``.
        """
        ...

    def pattern_usage_history(self, tenant: str, pattern_id: UUID, limit: int) -> list[bool]:
        """Results of the pattern's latest ``limit`` applications, oldest first (empty for
        an unknown pattern); ``analyze_patterns`` turns them into a trend."""
        ...

    def upsert_heuristics(self, tenant: str, heuristics: Sequence[Heuristic]) -> None:
        """Insert or replace heuristics by ``key``."""

    def list_heuristics(
        self, tenant: str, limit: int, min_confidence: float = 0.0
    ) -> list[Heuristic]:
        """Heuristics by confidence, descending."""
        ...


@runtime_checkable
class StorageBackend(Lifecycle, EpisodeStore, SearchIndex, PatternStore, Protocol):
    """The durable store: the source of truth every cache and index is rebuilt from.

    The union of the role protocols above; code that needs one role only should ask for
    that role. Optional capabilities (``RecordStore``, ``SensitiveStore``,
    ``IndexWarmer``, ``Scrubber``, ``Maintenance``) are separate runtime-checkable
    protocols, checked with ``isinstance``.
    """


@runtime_checkable
class RecordStore(Protocol):
    """Tenant-scoped JSON records for features built on the loop: relationships,
    checkpoints, recommendation sessions, the audit log, API tokens.

    A storage backend that offers these methods is a ``RecordStore`` too; the features
    check with ``isinstance(storage, RecordStore)`` and say clearly when it is missing.
    Records are ordered by insertion (``seq``). A record may name up to two episodes
    (``episode_id``, ``related_id``); ``delete_episode`` deletes every record naming the
    episode in either, in the same transaction.
    """

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
        """Insert or replace (keeping the original ``seq``) the record (kind, id)."""

    def get_record(self, tenant: str, kind: str, record_id: str) -> dict[str, Any] | None:
        """The record's data, or ``None``."""
        ...

    def list_records(
        self,
        tenant: str,
        kind: str,
        *,
        episode_id: UUID | None = None,
        limit: int = 100,
        after_seq: int = 0,
    ) -> list[tuple[int, str, dict[str, Any]]]:
        """(seq, id, data) in insertion order after ``after_seq``; with ``episode_id``,
        only records naming that episode (as ``episode_id`` or ``related_id``)."""
        ...

    def delete_record(self, tenant: str, kind: str, record_id: str) -> bool: ...

    def replace_patterns(
        self,
        tenant: str,
        patterns: Sequence[Pattern],
        *,
        delete_patterns: Sequence[UUID] = (),
        delete_heuristics: Sequence[UUID] = (),
    ) -> None:
        """Atomically store each given pattern exactly as given (matched by id, key
        unchanged; unknown ids skipped; FTS text and sources rewritten), delete the patterns
        in ``delete_patterns`` (with their usage rows) and the heuristics in
        ``delete_heuristics``; bump the generation. Erasure uses it to take an erased
        episode's contribution back out of shared patterns."""

    def update_episode_tags(self, tenant: str, episode_id: UUID, tags: Sequence[str]) -> Episode:
        """Replace an episode's tags (any status); bumps its version. Raises
        ``EpisodeNotFoundError``."""
        ...

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
        """Correct a completed episode in place, all in one transaction (``update_episode``):

        * the stored episode takes ``episode``'s outcome, reward, reflection, metadata and
          pattern ids; its steps, text, tags, vectors, records and usage rows stay; its
          version is bumped;
        * ``replace_patterns`` are stored exactly as given and ``delete_patterns`` /
          ``delete_heuristics`` deleted (as ``replace_patterns`` does), then
          ``extraction`` is written as ``complete_episode`` writes it (patterns merged);
        * ``record`` (kind, id, data), if given, is put as ``put_record`` does (the audit).

        A crash leaves either the old episode with its old patterns or the new one with
        the new. Returns the stored episode. Raises ``EpisodeNotFoundError``, or
        ``EpisodeStateError`` when the episode is not completed or its extraction is
        still pending.
        """
        ...


@runtime_checkable
class SensitiveStore(Protocol):
    """A storage that encrypts sensitive episodes at rest (``memory_core.security``).

    The core asks it which episodes are sensitive, so that their plaintext never
    reaches the cache or the embedder.
    """

    encrypts: bool

    def contains_sensitive(self, tenant: str, episode_ids: Sequence[UUID]) -> bool:
        """Whether any of these episodes is stored encrypted."""
        ...


@runtime_checkable
class ChannelSearch(Protocol):
    """A store that runs a query's two search channels together, e.g. side by side on two
    threads when that is faster; retrieval prefers it to two separate calls."""

    def search_channels(
        self,
        tenant: str,
        query: str,
        model_id: str,
        vector: FloatArray | Callable[[], FloatArray],
        limit: int,
        filters: EpisodeFilter,
    ) -> tuple[list[SearchHit], list[SearchHit]]:
        """``(lexical_search(tenant, query, limit, filters), vector_search(tenant,
        model_id, vector, limit, filters))``: the same hits, raising the same errors.
        ``vector`` may be a function returning it (the query is still to be embedded):
        the store calls it where the vector channel runs, so the embedding can overlap the
        lexical channel; what it raises (e.g. ``EmbeddingError``) is raised here."""
        ...


@runtime_checkable
class ItemVectors(Protocol):
    """A store that reads back the stored vectors of given items (retrieval scores a
    query's phrases against the items its vector search found)."""

    def item_vectors(
        self, tenant: str, model_id: str, keys: Sequence[tuple[UUID, int]]
    ) -> FloatArray:
        """One unit row per ``(episode id, item)`` key, in order; zeros for a key
        without a vector of ``model_id``."""
        ...


@runtime_checkable
class IndexWarmer(Protocol):
    """A store with in-process indexes that can be loaded ahead of the first query."""

    def warm(self, tenant: str | None = None) -> dict[str, Any]:
        """Load the indexes (of one tenant, or all); returns what was loaded."""
        ...


@runtime_checkable
class Scrubber(Protocol):
    """A store whose deleted bytes can linger in free pages or logs until scrubbed."""

    def scrub(self) -> dict[str, Any]:
        """Overwrite what deletions left behind (free pages, WAL), without a full VACUUM."""
        ...


@runtime_checkable
class Maintenance(Protocol):
    """Operator methods of a store (``memory storage check|vacuum|backup|sync``)."""

    def integrity_check(self) -> dict[str, Any]:
        """``{"ok": bool, "messages": [...], ...}`` after checking every table and index."""
        ...

    def vacuum(self) -> dict[str, Any]:
        """Rebuild the file without free pages."""
        ...

    def backup(self, path: str | Path) -> dict[str, Any]:
        """A consistent copy of the database at ``path``."""
        ...

    def sync(self) -> dict[str, Any]:
        """Pull from and push to the remote primary (embedded replicas)."""
        ...


@runtime_checkable
class StorageFactory(Protocol):
    """What the ``memory_core.storage`` entry point must resolve to."""

    schemes: ClassVar[tuple[str, ...]]

    def from_url(self, url: str, config: MemoryConfig) -> StorageBackend: ...


@runtime_checkable
class CacheBackend(Protocol):
    """The hot tier. Never the only copy: any entry may vanish at any time.

    Values are opaque bytes (the core serializes). ``version`` is the source row's
    version: ``put`` of an older version than the stored one is ignored, so a slow writer
    cannot resurrect stale data. Entries of other schema versions are dropped on read.
    Errors are swallowed and counted by the implementation (a failing cache is a miss)
    except on ``delete``/``invalidate_*``, which must raise ``CacheError`` if they could
    not take effect, since stale reads would follow.
    """

    name: ClassVar[str]

    def get(self, kind: CacheKind, tenant: str, key: str) -> bytes | None: ...

    def put(
        self,
        kind: CacheKind,
        tenant: str,
        key: str,
        value: bytes,
        *,
        version: int = 0,
        ttl_seconds: float | None = None,
    ) -> None: ...

    def delete(self, kind: CacheKind, tenant: str, key: str) -> None: ...

    def invalidate_episode(self, tenant: str, episode_id: UUID) -> None:
        """Drop every entry derived from an episode (full, summary, embeddings) and all
        retrieval results of the tenant."""

    def invalidate_tenant(self, tenant: str) -> None: ...

    def clear(self) -> None: ...

    def stats(self) -> CacheStats: ...

    def close(self) -> None: ...


@runtime_checkable
class CacheCompactor(Protocol):
    """A cache whose file keeps freed pages (with old bytes) until compacted."""

    def compact(self) -> dict[str, Any]:
        """Rewrite the file without free pages."""
        ...


@runtime_checkable
class CacheFactory(Protocol):
    """What the ``memory_core.cache`` entry point must resolve to."""

    def from_config(self, config: MemoryConfig) -> CacheBackend: ...


@runtime_checkable
class EmbeddingProvider(Protocol):
    """Turns text into unit-length float32 vectors.

    Construction must be cheap (no model load, no network): load on first ``embed`` or
    in ``warm``. ``model_id`` names provider and model (``local:minilm-m2v-256``,
    ``openai:text-embedding-3-small``); vectors of different ids are never compared.
    """

    name: ClassVar[str]

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Shape (len(texts), dimension), rows L2-normalised. Raises ``EmbeddingError``."""
        ...

    def warm(self) -> None:
        """Load the model now (e.g. in a background thread at server start)."""

    def close(self) -> None: ...


@runtime_checkable
class EmbeddingProviderFactory(Protocol):
    """What the ``memory_core.embeddings`` entry point must resolve to."""

    def from_config(self, config: MemoryConfig) -> EmbeddingProvider | None: ...
