"""Bulk import: many exported episodes per transaction instead of ~five per episode.

``SelfLearningMemory.import_episodes`` is the entry point (it delegates here). Each batch
is parsed and checked first, then written with one ``import_batch`` call of the backend:
the episodes, their steps and texts, their vectors (computed by one ``embed`` call for the
whole batch) and their patterns (merged by key within the batch, then with the stored
ones) in one transaction. A batch that the backend refuses is retried episode by episode,
so one bad episode is reported and the rest of its batch is still stored.

Backends without ``import_batch`` (the encrypting and sharding wrappers) are imported
through ``import_episode`` one by one, with the same report.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import BaseModel, Field

from memory_core._errors import (
    EmbeddingError,
    EpisodeNotFoundError,
    InvalidInputError,
    MemoryCoreError,
)
from memory_core._models import EmbeddingRecord, Episode, Extraction, Pattern
from memory_core._validation import coerce
from memory_core.extraction import extract_patterns

if TYPE_CHECKING:
    from memory_core._context import MemoryContext

log = logging.getLogger("memory_core")

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "MAX_BATCH_SIZE",
    "ImportProblem",
    "ImportReport",
    "bulk_import",
]

DEFAULT_BATCH_SIZE = 500
"""Episodes per transaction: large enough to amortise the commit and the embedder call,
small enough that a batch stays a few MB and a crash loses at most a second of work."""

MAX_BATCH_SIZE = 5_000

_MAX_AUDIT_TARGETS = 1_000


class ImportProblem(BaseModel):
    """One input that was not imported: its position in the input, the field and why."""

    index: int
    field: str | None
    message: str


class ImportReport(BaseModel):
    """What ``import_episodes`` did; passed (as it grows) to the ``progress`` callback
    after every committed batch."""

    processed: int = 0
    """Inputs consumed so far (imported + duplicates + problems)."""
    imported: int = 0
    duplicates: int = 0
    """Episodes whose id was already stored (or repeated in the input): skipped."""
    problems: list[ImportProblem] = Field(default_factory=list)
    batches: int = 0
    """Committed batches: everything they imported is durable."""
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Imported episodes per second."""
        return self.imported / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Item:
    index: int
    episode: Episode
    patterns: list[Pattern]


def bulk_import(
    memory: MemoryContext,
    import_one: Callable[[Episode], bool],
    episodes: Iterable[Episode | dict[str, Any] | str],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """See ``SelfLearningMemory.import_episodes``."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise InvalidInputError("batch_size must be an integer", field="batch_size")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise InvalidInputError(
            f"batch_size must be between 1 and {MAX_BATCH_SIZE}; got {batch_size}",
            field="batch_size",
            limit=MAX_BATCH_SIZE,
        )
    if isinstance(episodes, str | bytes | dict):
        raise InvalidInputError(
            "episodes must be an iterable of episodes (Episode, dict or JSON string)",
            field="episodes",
        )
    report = ImportReport()
    started = time.perf_counter()
    bulk = _bulk_capable(memory.backends.storage)
    seen: set[UUID] = set()
    for batch in _batches(enumerate(episodes), batch_size):
        if bulk:
            _import_batch(memory, batch, report, seen)
        else:
            _import_one_by_one(memory, import_one, batch, report)
        report.processed += len(batch)
        report.batches += 1
        report.seconds = time.perf_counter() - started
        if progress is not None:
            progress(report.model_copy(deep=True))
    report.seconds = time.perf_counter() - started
    return report


def _bulk_capable(storage: object) -> bool:
    # Looked up on the class: wrappers that forward unknown attributes to the wrapped
    # backend (encryption, sharding) must not be bypassed through ``__getattr__``.
    return callable(getattr(type(storage), "import_batch", None))


def _batches(items: Iterable[tuple[int, Any]], size: int) -> Iterator[list[tuple[int, Any]]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _parse(memory: MemoryContext, raw: Any) -> Episode:
    episode = coerce(Episode, raw, "")
    memory.tenant(episode.tenant)  # the same tenant rule as every other call
    numbers = [s.step_number for s in episode.steps]
    if len(set(numbers)) != len(numbers):
        raise InvalidInputError("step numbers repeat within the episode", field="steps")
    memory.guard.require_encryption(episode.metadata)  # security: sensitive needs encryption
    return episode


def _problem(index: int, exc: MemoryCoreError) -> ImportProblem:
    field = getattr(exc, "field", None)
    if isinstance(field, str) and field.startswith("episodes[0]"):
        field = field[len("episodes[0]") :].lstrip(".") or None  # a batch of one: relative
    elif field is None and isinstance(exc, EpisodeNotFoundError):
        field = "id"
    key = getattr(exc, "key", None)
    if field is None and isinstance(key, str):
        field = key
    return ImportProblem(index=index, field=field, message=str(exc))


def _import_batch(
    memory: MemoryContext,
    batch: list[tuple[int, Any]],
    report: ImportReport,
    seen: set[UUID],
) -> None:
    by_tenant: dict[str, list[_Item]] = {}
    for index, raw in batch:
        try:
            episode = _parse(memory, raw)
        except MemoryCoreError as exc:
            report.problems.append(_problem(index, exc))
            continue
        if episode.id in seen:
            report.duplicates += 1
            continue
        seen.add(episode.id)
        patterns: list[Pattern] = []
        if episode.outcome is not None:
            patterns = extract_patterns(episode, episode.outcome)
            episode = episode.model_copy(update={"pattern_ids": [p.id for p in patterns]})
        by_tenant.setdefault(episode.tenant, []).append(_Item(index, episode, patterns))
    for tenant, items in by_tenant.items():
        with memory.lock:
            stored = {
                s.id
                for s in memory.backends.storage.get_summaries(
                    tenant, [i.episode.id for i in items]
                )
            }
        report.duplicates += sum(1 for i in items if i.episode.id in stored)
        fresh = [i for i in items if i.episode.id not in stored]
        if fresh:
            _write(memory, tenant, fresh, report)


def _write(memory: MemoryContext, tenant: str, items: list[_Item], report: ImportReport) -> None:
    vectors = _embed(memory, [i.episode for i in items])
    storage: Any = memory.backends.storage
    try:
        with memory.lock:
            storage.import_batch(tenant, [i.episode for i in items], _extraction(items, vectors))
    except (InvalidInputError, EpisodeNotFoundError):
        if len(items) == 1:
            raise
        for item in items:  # isolate the episode(s) the backend refused
            try:
                _write(memory, tenant, [item], report)
            except (InvalidInputError, EpisodeNotFoundError) as exc:
                report.problems.append(_problem(item.index, exc))
        return
    merged = _merge_patterns(items)
    with memory.lock:
        memory.worker.after_extraction(tenant, merged)  # heuristics: re-derivable, one write
    report.imported += len(items)
    ids = [i.episode.id for i in items]
    memory.guard.audit("import_episodes", tenant, ids[:_MAX_AUDIT_TARGETS], f"ok:{len(ids)}")


def _extraction(items: list[_Item], vectors: dict[UUID, list[EmbeddingRecord]]) -> Extraction:
    return Extraction(
        patterns=_merge_patterns(items),
        embeddings=[r for i in items for r in vectors.get(i.episode.id, [])],
    )


def _merge_patterns(items: list[_Item]) -> list[Pattern]:
    """One pattern per key for the batch, merged by ``Pattern.merged_with`` as if the
    episodes had been completed one after another (storage merges the result again)."""
    merged: dict[str, Pattern] = {}
    for item in items:
        for p in item.patterns:
            seen = merged.get(p.key)
            merged[p.key] = p if seen is None else seen.merged_with(p, seen.updated_at)
    firsts = {p.key: p for item in reversed(items) for p in item.patterns}
    return [p.model_copy(update={"version": firsts[key].version}) for key, p in merged.items()]


def _embed(memory: MemoryContext, episodes: list[Episode]) -> dict[UUID, list[EmbeddingRecord]]:
    """Vectors of every completed episode of a batch, from one ``embed`` call; none when
    there is no embedder or it fails (the episodes are stored anyway, as one by one)."""
    from memory_core._extraction_worker import embed_items  # the one rule: what gets a vector

    emb = memory.backends.embedder
    if emb is None:
        return {}
    keys: list[tuple[UUID, int, int]] = []
    rows: dict[str, int] = {}  # repeated texts (common step texts) are embedded once
    for episode in episodes:
        if episode.outcome is None:
            continue
        for item, text in embed_items(episode):
            keys.append((episode.id, item, rows.setdefault(text, len(rows))))
    if not rows:
        return {}
    try:
        matrix = emb.embed(list(rows))
    except EmbeddingError as exc:
        log.warning("a batch of %d episodes stored without vectors: %s", len(episodes), exc)
        return {}
    vectors = matrix.tolist()
    out: dict[UUID, list[EmbeddingRecord]] = {}
    model_id = emb.model_id
    for eid, item, row in keys:
        # Built without re-validating 256 floats each: they come straight from the
        # embedder, and the backend checks what it stores.
        out.setdefault(eid, []).append(
            EmbeddingRecord.model_construct(
                episode_id=eid, item=item, model_id=model_id, vector=vectors[row]
            )
        )
    return out


def _import_one_by_one(
    memory: MemoryContext,
    import_one: Callable[[Episode], bool],
    batch: list[tuple[int, Any]],
    report: ImportReport,
) -> None:
    """The path for wrapped backends: ``import_episode`` per input, the same report."""
    for index, raw in batch:
        try:
            episode = _parse(memory, raw)
            if import_one(episode):
                report.imported += 1
            else:
                report.duplicates += 1
        except MemoryCoreError as exc:
            report.problems.append(_problem(index, exc))
