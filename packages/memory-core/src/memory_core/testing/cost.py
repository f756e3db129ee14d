"""Probes for "the cost of a call does not grow with the store", shared by backend tests.

* ``counting_storage(backend)`` forwards every call and counts them per method. Its class
  has the backend's public methods, so optional extensions (``get_steps_many``,
  ``import_batch``) found on the class are still found.
* ``fill(storage, n)`` stores ``n`` completed episodes of a few fixed shapes (so that any
  of them costs the same to return), their vectors, two audit records and one
  recommendation session each: the records that used to sit on the completion path.
* ``hot_path(memory)`` runs the calls the issue is about (log a step, query for an
  episode, complete it) and returns a label per call, so tests can measure each one.
"""

from __future__ import annotations

import functools
import itertools
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import numpy as np

from memory_core._models import (
    EmbeddingRecord,
    Episode,
    Extraction,
    OutcomeType,
    Pattern,
    TaskOutcome,
)
from memory_core.extraction import extract_patterns
from memory_core.testing.factories import BASE_TIME, complete, make_episode, make_step

__all__ = ["CountingStorage", "RecordRow", "counting_storage", "fill", "hot_path"]

_SHAPES = (
    ("fix the failing login test", ("read_logs", "edit", "run_tests", "run_tests")),
    ("add caching to the user profile endpoint", ("grep", "edit", "run_tests", "deploy")),
    ("refactor the payment retry loop", ("read_file", "edit", "edit", "run_tests")),
)
_TOPICS = ("auth", "billing", "search", "profile", "uploads", "mail", "reports", "cart")


class CountingStorage:
    """A storage backend seen through a counter: ``calls[method]`` per public method."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:  # attributes that are not methods
        return getattr(self.inner, name)

    def reset(self) -> None:
        self.calls.clear()


def counting_storage(inner: Any) -> CountingStorage:
    """Wrap ``inner``; the wrapper's class defines each public method of ``inner``'s."""

    def forward(name: str) -> Callable[..., Any]:
        def method(self: CountingStorage, *args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return getattr(self.inner, name)(*args, **kwargs)

        method.__name__ = name
        return method

    cls = type(inner)
    methods = {
        name: forward(name)
        for name in dir(cls)
        if not name.startswith("_") and callable(getattr(cls, name, None))
    }
    counted = type(f"Counting{cls.__name__}", (CountingStorage,), methods)
    counted.name = getattr(cls, "name", "counting")  # type: ignore[attr-defined]
    return counted(inner)  # type: ignore[no-any-return]


@functools.cache
def _template(shape: int, topic: str, tenant: str) -> Episode:
    task, tools = _SHAPES[shape]
    steps = [
        make_step(n, tool=tool, action=f"{tool} {topic}", output=f"{tool} ok for {topic}")
        for n, tool in enumerate(tools, start=1)
    ]
    episode = make_episode(f"{task} in {topic}", tenant=tenant, steps=steps)
    return complete(episode, outcome=OutcomeType.SUCCESS)


def _episode(number: int, tenant: str) -> Episode:
    topic = _TOPICS[(number // len(_SHAPES)) % len(_TOPICS)]
    template = _template(number % len(_SHAPES), topic, tenant)
    started = BASE_TIME + timedelta(minutes=number)
    return template.model_copy(
        update={
            "id": uuid.uuid4(),
            "task_description": f"{template.task_description} #{number}",
            "started_at": started,
            "updated_at": started,
            "completed_at": started + timedelta(minutes=3),
        }
    )


RecordRow = tuple[str, str, dict[str, Any], UUID | None]
"""(kind, id, data, episode id) of a record ``fill`` stores."""


def fill(
    storage: Any,
    n: int,
    *,
    tenant: str = "default",
    dimension: int = 256,
    write_records: Callable[[str, list[RecordRow]], None] | None = None,
) -> None:
    """Store ``n`` completed episodes (4 steps, 5 vectors, 2 audit and 1 recommendation
    record each) through the backend's bulk ``import_batch``, in batches of 1,000.

    ``write_records(tenant, rows)`` stores a batch's records (default: ``put_record``
    each; a backend test may insert them in one transaction to keep set-up short).
    """
    rng = np.random.default_rng(n)
    numbers = iter(range(n))
    while batch := [_episode(i, tenant) for i in itertools.islice(numbers, 1_000)]:
        vectors = rng.standard_normal((len(batch) * 5, dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        owners = [(e.id, item) for e in batch for item in range(5)]
        records = [
            EmbeddingRecord.model_construct(
                episode_id=eid, item=item, model_id="local:minilm-m2v-256", vector=row.tolist()
            )
            for (eid, item), row in zip(owners, vectors, strict=True)
        ]
        patterns = _merged_patterns(batch)
        batch = [
            e.model_copy(update={"pattern_ids": [p.id for p in patterns if p.key in keys]})
            for e, keys in zip(batch, (_keys(e) for e in batch), strict=True)
        ]
        storage.import_batch(tenant, batch, Extraction(patterns=patterns, embeddings=records))
        rows: list[RecordRow] = []
        for e in batch:
            rows += [("audit", f"{e.id}-{k}", {"operation": "x", "k": k}, None) for k in range(2)]
            rows.append(("recommendation", str(uuid.uuid4()), {"pattern_ids": []}, e.id))
        if write_records is None:
            for kind, rid, data, eid in rows:
                storage.put_record(tenant, kind, rid, data, episode_id=eid)
        else:
            write_records(tenant, rows)


def _keys(episode: Episode) -> set[str]:
    assert episode.outcome is not None
    return {p.key for p in extract_patterns(episode, episode.outcome)}


def _merged_patterns(batch: list[Episode]) -> list[Pattern]:
    """The batch's patterns merged by key, as completing the episodes would store them."""
    merged: dict[str, Pattern] = {}
    for e in batch:
        assert e.outcome is not None
        for p in extract_patterns(e, e.outcome):
            have = merged.get(p.key)
            merged[p.key] = (
                p
                if have is None
                else have.model_copy(
                    update={
                        "support": have.support + p.support,
                        "successes": have.successes + p.successes,
                        "episode_ids": [*have.episode_ids, *p.episode_ids][-50:],
                    }
                )
            )
    return list(merged.values())


def hot_path(memory: Any, *, tenant: str = "default") -> Iterator[tuple[str, Callable[[], Any]]]:
    """(label, call) for: start, log one step, query for the episode, complete it."""
    box: dict[str, UUID] = {}

    def start() -> None:
        box["id"] = memory.start_episode("fix the failing login test in auth", tenant=tenant)

    def log_step() -> None:
        memory.log_step(
            box["id"],
            {"step_number": 1, "tool": "run_tests", "action": "run tests for login"},
            tenant=tenant,
        )

    def query() -> None:
        memory.query("login test fails in auth", for_episode=box["id"], tenant=tenant)

    def finish() -> None:
        memory.complete_episode(box["id"], TaskOutcome.success("fixed"), tenant=tenant)

    yield "start_episode", start
    yield "log_step", log_step
    yield "query", query
    yield "complete_episode", finish
