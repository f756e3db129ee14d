"""Bulk import: many exported episodes per transaction instead of ~five per episode.

``SelfLearningMemory.import_episodes`` is the entry point (it delegates here). Each batch
is parsed and checked first, then written with one ``import_batch`` call of the backend:
the episodes, their steps and texts, their vectors (one ``embed`` call for the whole
batch, each distinct text once: ``_bulk_embed``) and their patterns (merged by key within
the batch, then with the stored ones) in one transaction. A batch that the backend refuses is retried episode by episode,
so one bad episode is reported and the rest of its batch is still stored.

Backends without ``import_batch`` (the encrypting and sharding wrappers) are imported
through ``import_episode`` one by one, with the same report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import BaseModel, Field

from memory_core._bulk_embed import BatchEmbedder
from memory_core._errors import (
    EpisodeNotFoundError,
    InvalidInputError,
    MemoryCoreError,
)
from memory_core._gc_pause import GcPause
from memory_core._models import (
    MAX_PATTERN_SOURCES,
    Episode,
    Extraction,
    Pattern,
)
from memory_core._validation import coerce
from memory_core.extraction import extract_patterns

if TYPE_CHECKING:
    from memory_core._context import MemoryContext

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

    def committed(size: int, first_problem: int) -> None:
        report.problems[first_problem:] = sorted(
            report.problems[first_problem:], key=lambda p: p.index
        )
        report.processed += size
        report.batches += 1
        report.seconds = time.perf_counter() - started
        if progress is not None:
            progress(report.model_copy(deep=True))

    batches = _batches(enumerate(episodes), batch_size)
    with GcPause() as gc_pause:
        _run(memory, import_one, batches, report, committed, gc_pause)
    report.seconds = time.perf_counter() - started
    return report


def _run(
    memory: MemoryContext,
    import_one: Callable[[Episode], bool],
    batches: Iterator[list[tuple[int, Any]]],
    report: ImportReport,
    committed: Callable[[int, int], None],
    gc_pause: GcPause,
) -> None:
    if not _bulk_capable(memory.backends.storage):
        for batch in batches:
            mark = len(report.problems)
            _import_one_by_one(memory, import_one, batch, report)
            committed(len(batch), mark)
            gc_pause.batch_done()
    else:
        # Two stages: one thread parses, extracts and embeds batch k+1 while this one
        # writes batch k (the embedder's tokenizer and the engine's I/O leave the GIL).
        seen: set[UUID] = set()
        embedder = BatchEmbedder(memory.backends.embedder)
        with ThreadPoolExecutor(1, thread_name_prefix="memory-import") as pool:
            first = next(batches, None)
            pending = pool.submit(_prepare, memory, embedder, first, seen) if first else None
            while pending is not None:
                prepared = pending.result()
                following = next(batches, None)
                pending = (
                    pool.submit(_prepare, memory, embedder, following, seen) if following else None
                )
                mark = len(report.problems)
                report.problems.extend(prepared.problems)
                report.duplicates += prepared.duplicates
                for write in prepared.writes:
                    _commit(memory, embedder, write, report)
                committed(prepared.size, mark)
                gc_pause.batch_done()


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


@dataclass
class _Write:
    """The new episodes of one tenant in a batch, with what is written with them."""

    tenant: str
    items: list[_Item]
    extraction: Extraction


@dataclass
class _Prepared:
    """A batch parsed, checked and embedded, ready to be written."""

    size: int
    problems: list[ImportProblem]
    duplicates: int
    writes: list[_Write]


def _prepare(
    memory: MemoryContext, embedder: BatchEmbedder, batch: list[tuple[int, Any]], seen: set[UUID]
) -> _Prepared:
    """Parse, drop duplicates (in the input and in the store), extract and embed."""
    out = _Prepared(len(batch), [], 0, [])
    by_tenant: dict[str, list[_Item]] = {}
    for index, raw in batch:
        try:
            episode = _parse(memory, raw)
        except MemoryCoreError as exc:
            out.problems.append(_problem(index, exc))
            continue
        if episode.id in seen:
            out.duplicates += 1
            continue
        seen.add(episode.id)
        patterns: list[Pattern] = []
        if episode.outcome is not None:
            patterns = extract_patterns(episode, episode.outcome)
            episode = episode.model_copy(update={"pattern_ids": [p.id for p in patterns]})
        by_tenant.setdefault(episode.tenant, []).append(_Item(index, episode, patterns))
    for tenant, items in by_tenant.items():
        # Read before the previous batch commits: its ids are not these (``seen``).
        with memory.lock:
            stored = {
                s.id
                for s in memory.backends.storage.get_summaries(
                    tenant, [i.episode.id for i in items]
                )
            }
        out.duplicates += sum(1 for i in items if i.episode.id in stored)
        fresh = [i for i in items if i.episode.id not in stored]
        if fresh:
            out.writes.append(_plan(embedder, tenant, fresh))
    return out


def _plan(embedder: BatchEmbedder, tenant: str, items: list[_Item]) -> _Write:
    vectors = embedder.vectors([i.episode for i in items])
    extraction = Extraction.model_construct(
        patterns=_merge_patterns(items),
        heuristics=[],
        embeddings=[r for i in items for r in vectors.get(i.episode.id, [])],
    )
    return _Write(tenant, items, extraction)


def _commit(
    memory: MemoryContext, embedder: BatchEmbedder, write: _Write, report: ImportReport
) -> None:
    """One transaction for the batch; if the backend refuses it, episode by episode."""
    storage: Any = memory.backends.storage
    tenant, items = write.tenant, write.items
    try:
        with memory.lock:
            stored = storage.import_batch(tenant, [i.episode for i in items], write.extraction)
    except (InvalidInputError, EpisodeNotFoundError):
        if len(items) == 1:
            raise
        for item in items:  # isolate the episode(s) the backend refused
            try:
                _commit(memory, embedder, _plan(embedder, tenant, [item]), report)
            except (InvalidInputError, EpisodeNotFoundError) as exc:
                report.problems.append(_problem(item.index, exc))
        return
    with memory.lock:
        # Heuristics: re-derivable, one write (from the merged patterns the backend
        # returns; a backend that returns nothing has them read back).
        memory.worker.after_extraction(
            tenant,
            write.extraction.patterns,
            stored=stored if isinstance(stored, list) else None,
        )
    report.imported += len(items)
    ids = [i.episode.id for i in items]
    memory.guard.audit("import_episodes", tenant, ids[:_MAX_AUDIT_TARGETS], f"ok:{len(ids)}")


def _merge_patterns(items: list[_Item]) -> list[Pattern]:
    """One pattern per key for the batch, equal to merging them one after another with
    ``Pattern.merged_with`` (as completing the episodes in order would), in one pass per
    key: the statistics add up, sources are kept by their last occurrence (newest
    ``MAX_PATTERN_SOURCES``), ``updated_at`` is the latest, the rest is the first one's.
    Storage merges the result with the stored pattern again."""
    groups: dict[str, list[Pattern]] = {}
    for item in items:
        for p in item.patterns:
            groups.setdefault(p.key, []).append(p)
    out: list[Pattern] = []
    for group in groups.values():
        first = group[0]
        if len(group) == 1:
            out.append(first)
            continue
        sources = [eid for p in group for eid in p.episode_ids]
        newest = list(dict.fromkeys(reversed(sources)))[:MAX_PATTERN_SOURCES]
        newest.reverse()
        out.append(
            first.model_copy(
                update={
                    "support": sum(p.support for p in group),
                    "successes": sum(p.successes for p in group),
                    "episode_ids": newest,
                    "updated_at": max(p.updated_at for p in group),
                }
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
