"""The contract every ``StorageBackend`` must pass, run against its real engine.

A plugin subclasses ``StorageContract`` in its own tests and provides a function-scoped
``storage`` fixture that yields a fresh, empty backend (and closes it)::

    import pytest
    from memory_core.testing import StorageContract

    class TestMyBackend(StorageContract):
        @pytest.fixture
        def storage(self, tmp_path):
            backend = MyBackend.from_url(f"file:{tmp_path / 'memory.db'}", MemoryConfig())
            yield backend
            backend.close()

Decisions the protocol's docstrings leave open, fixed here so every backend agrees:

* ``Episode.version`` is bumped by the backend on every write of the episode
  (``append_steps``, ``complete_episode``): the value read back is greater than before.
  Every other field reads back equal (``==``, so instants compare across time zones)
  to what was written, timestamps to the microsecond.
* ``list_episodes`` orders by ``(started_at, id)`` descending and pages by keyset: an
  episode inserted between two pages neither repeats nor hides older ones. An invalid
  cursor raises ``InvalidInputError`` with ``field == "cursor"``.
* Pattern usage is a row per (pattern, episode): ``applications`` and
  ``application_successes`` always equal what those rows say, also after
  ``delete_episode`` removes the episode's rows.
* ``apply_extraction`` for an unknown (e.g. deleted) episode does nothing.
* Episode ids are globally unique (UUID4), so tests never reuse one across tenants.

Why this module is longer than ~400 lines: it is one suite that a backend inherits whole,
with one fixture and one set of helpers; its sections follow the protocol's roles in
order (lifecycle, episodes, steps, listing, completion, deletion, lexical and vector
search, patterns, heuristics, operations, tenant isolation), so a backend author reads
each role's rules next to the tests that hold it to them.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memory_core._errors import (
    DuplicateStepError,
    EpisodeNotFoundError,
    EpisodeStateError,
    InvalidInputError,
    PatternNotFoundError,
)
from memory_core._models import (
    EmbeddingRecord,
    Episode,
    EpisodeFilter,
    EpisodeStatus,
    EpisodeSummary,
    Extraction,
    OutcomeType,
    Pattern,
    PatternFilter,
    PatternKind,
    SearchHit,
    StorageStats,
    TaskType,
)
from memory_core._protocols import StorageBackend
from memory_core.testing.factories import (
    BASE_TIME,
    PLUS_FIVE,
    complete,
    make_embedding,
    make_episode,
    make_heuristic,
    make_pattern,
    make_step,
    unit_vectors,
)

__all__ = ["StorageContract"]

T1 = "tenant-one"
T2 = "tenant-two"
MODEL = "test:model-a"
OTHER_MODEL = "test:model-b"

_IGNORED_ON_WRITE = {"version", "updated_at"}


def _dump(model: Any, exclude: set[str] | None = None) -> Any:
    """JSON form with every datetime normalised to UTC (so zones don't matter, instants do)."""
    data = json.loads(model.model_dump_json(exclude=exclude))
    return _normalise(data)


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, str) and len(value) >= 20 and value[4] == "-" and "T" in value:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        if dt.tzinfo is not None:
            return dt.astimezone(UTC).isoformat()
    return value


def assert_same_episode(read: Episode | None, written: Episode) -> None:
    """Equal in every field except the backend-managed ``version``/``updated_at``."""
    assert read is not None
    assert _dump(read, _IGNORED_ON_WRITE) == _dump(written, _IGNORED_ON_WRITE)


def _all_pages(
    storage: StorageBackend, tenant: str, filters: EpisodeFilter, limit: int
) -> list[EpisodeSummary]:
    out: list[EpisodeSummary] = []
    cursor: str | None = None
    for _ in range(10_000):
        page = storage.list_episodes(tenant, filters, limit, cursor)
        assert len(page.items) <= limit
        out.extend(page.items)
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor
    raise AssertionError("list_episodes never ended (cursor loops)")


def _newest_first(summaries: Sequence[EpisodeSummary]) -> list[UUID]:
    return [s.id for s in sorted(summaries, key=lambda s: (s.started_at, s.id), reverse=True)]


def _ids(hits: Sequence[SearchHit]) -> set[UUID]:
    return {h.episode_id for h in hits}


def _store(
    storage: StorageBackend,
    episode: Episode,
    steps: Sequence[Any] = (),
    *,
    completed: bool = False,
    extraction: Extraction | None = None,
    outcome: OutcomeType = OutcomeType.SUCCESS,
) -> Episode:
    """Create, append steps, optionally complete; returns the episode as written."""
    storage.create_episode(episode)
    if steps:
        storage.append_steps(episode.tenant, episode.id, steps)
    full = episode.model_copy(update={"steps": list(steps)}, deep=True)
    if completed:
        full = complete(full, outcome=outcome)
        storage.complete_episode(full, extraction if extraction is not None else Extraction())
    return full


# A small corpus for filter tests: varied attributes, some shared instants.
_DOMAINS = ["web", "data", "infra"]
_LANGS = [None, "python", "rust"]
_FRAMEWORKS = [None, "django", "axum"]
_TAGS = ["api", "db", "ci", "perf"]
_TYPES = [TaskType.DEBUGGING, TaskType.TESTING, TaskType.REFACTORING]
_OUTCOMES = [None, OutcomeType.SUCCESS, OutcomeType.FAILURE, OutcomeType.PARTIAL_SUCCESS]


def _corpus(storage: StorageBackend, tenant: str, n: int = 48, seed: int = 7) -> list[Episode]:
    rng = random.Random(seed)
    written = []
    for i in range(n):
        # a few episodes share a start instant so the id tie-break is exercised
        started = BASE_TIME + timedelta(hours=rng.randrange(0, 12))
        if i % 4 == 0:
            started = started.astimezone(PLUS_FIVE)
        ep = make_episode(
            f"corpus task {i} common",
            tenant=tenant,
            task_type=rng.choice(_TYPES),
            domain=rng.choice(_DOMAINS),
            language=rng.choice(_LANGS),
            framework=rng.choice(_FRAMEWORKS),
            tags=rng.sample(_TAGS, rng.randrange(0, 4)),
            started_at=started,
        )
        outcome = rng.choice(_OUTCOMES)
        steps = [make_step(1, output=f"corpus output {i} shared")]
        if outcome is None:
            written.append(_store(storage, ep, steps))
        else:
            written.append(_store(storage, ep, steps, completed=True, outcome=outcome))
    return written


def _sometimes(values: Sequence[Any]) -> st.SearchStrategy[Any]:
    """None three times out of four, so examples combine few fields and still match rows."""
    return st.sampled_from([None] * (3 * len(values)) + list(values))


_INSTANTS = [BASE_TIME + timedelta(hours=h) for h in (0, 3, 5, 11, 12)]
_INSTANTS += [d.astimezone(PLUS_FIVE) for d in _INSTANTS[1::2]]

_filters = st.builds(
    EpisodeFilter,
    domain=_sometimes([*_DOMAINS, "nowhere"]),
    task_type=_sometimes([*_TYPES, TaskType.ANALYSIS]),
    outcome=_sometimes([o for o in _OUTCOMES if o is not None]),
    status=_sometimes([EpisodeStatus.IN_PROGRESS, EpisodeStatus.COMPLETED]),
    language=_sometimes(["python", "rust", "go"]),
    framework=_sometimes(["django", "axum"]),
    tags=st.lists(st.sampled_from([*_TAGS, "none-such"]), max_size=2, unique=True).map(
        lambda tags: tags if len(tags) < 2 or tags[0] != "none-such" else []
    ),
    since=_sometimes(_INSTANTS),
    until=_sometimes(_INSTANTS),
)


class StorageContract:
    """Tests every ``StorageBackend`` must pass. Subclass and provide ``storage``."""

    @pytest.fixture
    def storage(self) -> StorageBackend:
        raise NotImplementedError("subclass StorageContract and provide a `storage` fixture")

    # -- lifecycle ---------------------------------------------------------------------

    def test_is_a_storage_backend(self, storage: StorageBackend) -> None:
        assert isinstance(storage, StorageBackend)
        assert isinstance(type(storage).name, str) and type(storage).name
        assert isinstance(storage.schema_version, int)

    def test_health_reports_ok(self, storage: StorageBackend) -> None:
        report = storage.health()
        assert report["ok"] is True

    def test_close_is_idempotent(self, storage: StorageBackend) -> None:
        storage.close()
        storage.close()

    # -- create / read -----------------------------------------------------------------

    def test_create_then_get_round_trips_exactly(self, storage: StorageBackend) -> None:
        ep = make_episode(
            "Ünïcode task ✓ with \"quotes\" and 'apostrophes'",
            tenant=T1,
            tags=["api", "db"],
            framework="django",
            started_at=BASE_TIME.astimezone(PLUS_FIVE),
            metadata={"nested": {"list": [1, 2.5, None, True, "x"]}, "empty": {}},
        )
        storage.create_episode(ep)
        read = storage.get_episode(T1, ep.id)
        assert read == ep
        assert _dump(read) == _dump(ep)

    def test_create_is_idempotent_for_identical_episode(self, storage: StorageBackend) -> None:
        ep = make_episode(tenant=T1)
        storage.create_episode(ep)
        storage.create_episode(ep.model_copy(deep=True))
        assert storage.count_episodes(T1, EpisodeFilter()) == 1
        assert storage.get_episode(T1, ep.id) == ep

    def test_create_duplicate_id_with_other_content_is_invalid(
        self, storage: StorageBackend
    ) -> None:
        ep = make_episode("first", tenant=T1)
        storage.create_episode(ep)
        with pytest.raises(InvalidInputError) as info:
            storage.create_episode(ep.model_copy(update={"task_description": "second"}))
        assert info.value.field == "id"
        assert storage.get_episode(T1, ep.id) == ep

    def test_create_stores_steps_and_outcome_as_given(self, storage: StorageBackend) -> None:
        """Imports create finished episodes in one call: nothing is dropped or pending."""
        steps = [make_step(2, output="imported ocelot output"), make_step(1)]
        ep = make_episode("imported task", tenant=T1, steps=steps)
        done = complete(ep, outcome=OutcomeType.FAILURE, pattern_ids=[uuid.uuid4()])
        storage.create_episode(done)
        read = storage.get_episode(T1, ep.id)
        assert read is not None
        assert read.steps == [steps[1], steps[0]]  # ordered by step number
        assert_same_episode(read, done.model_copy(update={"steps": read.steps}))
        assert read.version == done.version
        (summary,) = storage.get_summaries(T1, [ep.id])
        assert summary.status is EpisodeStatus.COMPLETED and summary.step_count == 2
        assert summary.pattern_ids == done.pattern_ids
        assert storage.pending_extractions() == []
        assert _ids(storage.lexical_search(T1, "ocelot", 10, EpisodeFilter())) == {ep.id}
        assert storage.get_steps(T1, ep.id, [2]) == [steps[0]]
        with pytest.raises(EpisodeStateError):
            storage.append_steps(T1, ep.id, [make_step(3)])
        with pytest.raises(EpisodeStateError):
            storage.complete_episode(done, Extraction())
        s = storage.stats(T1)
        assert (s.episodes, s.completed_episodes, s.steps) == (1, 1, 2)

    def test_get_unknown_episode_is_none(self, storage: StorageBackend) -> None:
        assert storage.get_episode(T1, uuid.uuid4()) is None

    def test_written_episode_is_not_aliased(self, storage: StorageBackend) -> None:
        ep = make_episode(tenant=T1, tags=["api"])
        storage.create_episode(ep)
        ep.context.tags.append("mutated")
        ep.metadata["late"] = 1
        read = storage.get_episode(T1, ep.id)
        assert read is not None and read.context.tags == ["api"] and "late" not in read.metadata
        read.context.tags.append("again")
        again = storage.get_episode(T1, ep.id)
        assert again is not None and again.context.tags == ["api"]

    # -- steps -------------------------------------------------------------------------

    def test_append_steps_returns_count_and_orders_by_number(self, storage: StorageBackend) -> None:
        ep = make_episode(tenant=T1)
        storage.create_episode(ep)
        assert storage.append_steps(T1, ep.id, [make_step(3), make_step(1)]) == 2
        assert storage.append_steps(T1, ep.id, [make_step(2)]) == 3
        assert storage.append_steps(T1, ep.id, []) == 3
        read = storage.get_episode(T1, ep.id)
        assert read is not None
        assert [s.step_number for s in read.steps] == [1, 2, 3]
        assert read.steps == [make_step(1), make_step(2), make_step(3)]

    def test_append_next_steps_numbers_after_the_largest(self, storage: StorageBackend) -> None:
        """Left-out numbers follow the largest stored one (a gap is skipped, never filled)
        and every number before them in the batch; explicit numbers are kept."""
        ep = make_episode(tenant=T1)
        storage.create_episode(ep)
        storage.append_steps(T1, ep.id, [make_step(1), make_step(5)])
        batch = [make_step(1, action="a"), make_step(9, action="b"), make_step(1, action="c")]
        count, stored = storage.append_next_steps(T1, ep.id, batch, [0, 2])
        assert count == 5
        assert [(s.step_number, s.action) for s in stored] == [(6, "a"), (9, "b"), (10, "c")]
        read = storage.get_episode(T1, ep.id)
        assert read is not None and [s.step_number for s in read.steps] == [1, 5, 6, 9, 10]
        assert storage.append_next_steps(T1, ep.id, [make_step(1)], [0])[1][0].step_number == 11
        with pytest.raises(DuplicateStepError):  # an explicit number already stored
            storage.append_next_steps(T1, ep.id, [make_step(1), make_step(5)], [0])
        with pytest.raises(DuplicateStepError):  # an explicit number meets an assigned one
            storage.append_next_steps(T1, ep.id, [make_step(1), make_step(12)], [0])
        with pytest.raises(EpisodeNotFoundError):
            storage.append_next_steps(T2, ep.id, [make_step(1)], [0])
        read = storage.get_episode(T1, ep.id)
        assert read is not None and len(read.steps) == 6  # nothing of a refused batch

    def test_append_next_steps_from_many_threads(self, storage: StorageBackend) -> None:
        """Concurrent appends without numbers: each number once, no gap, no conflict."""
        ep = make_episode(tenant=T1)
        storage.create_episode(ep)
        errors: list[BaseException] = []

        def writer() -> None:
            try:
                for _ in range(10):
                    storage.append_next_steps(T1, ep.id, [make_step(1)], [0])
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        read = storage.get_episode(T1, ep.id)
        assert read is not None and [s.step_number for s in read.steps] == list(range(1, 41))

    def test_append_bumps_version(self, storage: StorageBackend) -> None:
        ep = make_episode(tenant=T1)
        storage.create_episode(ep)
        v0 = storage.get_summaries(T1, [ep.id])[0].version
        storage.append_steps(T1, ep.id, [make_step(1)])
        read = storage.get_episode(T1, ep.id)
        assert read is not None and read.version > v0
        assert read.updated_at >= ep.updated_at
        assert storage.get_summaries(T1, [ep.id])[0].version == read.version

    def test_steps_round_trip_every_field(self, storage: StorageBackend) -> None:
        steps = [
            make_step(
                1,
                tool="http",
                action="GET /health",
                output="200 OK ✓",
                parameters={"url": "http://x/health", "headers": {"a": ["b", 1, None]}},
                latency_ms=0.125,
                tokens_used=None,
                timestamp=BASE_TIME.astimezone(PLUS_FIVE),
                metadata={"retry": 0},
            ),
            make_step(2, error="ConnectionError: refused"),
            make_step(3, timeout=True, error=None),
            make_step(4, timeout=True, error="timed out after 30 s"),
        ]
        ep = make_episode(tenant=T1)
        written = _store(storage, ep, steps)
        assert_same_episode(storage.get_episode(T1, ep.id), written)

    def test_append_to_unknown_episode(self, storage: StorageBackend) -> None:
        with pytest.raises(EpisodeNotFoundError):
            storage.append_steps(T1, uuid.uuid4(), [make_step(1)])

    def test_append_to_completed_episode(self, storage: StorageBackend) -> None:
        ep = _store(storage, make_episode(tenant=T1), [make_step(1)], completed=True)
        with pytest.raises(EpisodeStateError):
            storage.append_steps(T1, ep.id, [make_step(2)])
        read = storage.get_episode(T1, ep.id)
        assert read is not None and len(read.steps) == 1

    def test_duplicate_step_writes_nothing_of_the_batch(self, storage: StorageBackend) -> None:
        ep = make_episode(tenant=T1)
        storage.create_episode(ep)
        storage.append_steps(T1, ep.id, [make_step(1), make_step(2)])
        before = storage.generation(T1)
        with pytest.raises(DuplicateStepError):
            storage.append_steps(T1, ep.id, [make_step(3), make_step(2, output="again")])
        read = storage.get_episode(T1, ep.id)
        assert read is not None
        assert [s.step_number for s in read.steps] == [1, 2]
        assert read.steps[1] == make_step(2)
        assert storage.get_steps(T1, ep.id, [3]) == []
        assert storage.stats(T1).steps == 2
        assert storage.lexical_search(T1, "again", 10, EpisodeFilter()) == []
        assert storage.generation(T1) >= before

    def test_duplicate_step_within_one_batch(self, storage: StorageBackend) -> None:
        ep = make_episode(tenant=T1)
        storage.create_episode(ep)
        with pytest.raises(DuplicateStepError):
            storage.append_steps(T1, ep.id, [make_step(1), make_step(1)])
        assert storage.get_summaries(T1, [ep.id])[0].step_count == 0

    def test_get_steps_skips_unknown_and_orders(self, storage: StorageBackend) -> None:
        ep = make_episode(tenant=T1)
        _store(storage, ep, [make_step(n) for n in range(1, 6)])
        got = storage.get_steps(T1, ep.id, [5, 2, 99, 4])
        assert [s.step_number for s in got] == [2, 4, 5]
        assert got[0] == make_step(2)
        assert storage.get_steps(T1, ep.id, []) == []
        assert storage.get_steps(T1, uuid.uuid4(), [1]) == []

    def test_get_steps_many_matches_get_steps_per_episode(self, storage: StorageBackend) -> None:
        a = _store(storage, make_episode("a", tenant=T1), [make_step(n) for n in range(1, 6)])
        b = _store(storage, make_episode("b", tenant=T1), [make_step(n) for n in range(1, 3)])
        other = _store(storage, make_episode("o", tenant=T2), [make_step(1)])
        got = storage.get_steps_many(
            T1, [(a.id, [5, 2, 2, 99]), (b.id, [1]), (uuid.uuid4(), [1]), (other.id, [1])]
        )
        assert set(got) == {a.id, b.id}  # unknown and foreign episodes are absent
        assert got[a.id] == storage.get_steps(T1, a.id, [2, 5])
        assert got[b.id] == [make_step(1)]
        assert storage.get_steps_many(T1, []) == {}

    # -- summaries, listing, counting --------------------------------------------------

    def test_summaries_in_order_asked(self, storage: StorageBackend) -> None:
        eps = [_store(storage, make_episode(f"t{i}", tenant=T1), [make_step(1)]) for i in range(4)]
        ask = [eps[2].id, uuid.uuid4(), eps[0].id, eps[3].id]
        got = storage.get_summaries(T1, ask)
        assert [s.id for s in got] == [eps[2].id, eps[0].id, eps[3].id]
        assert _dump(got[0], {"version"}) == _dump(eps[2].summary(), {"version"})
        assert got[0].step_count == 1
        assert storage.get_summaries(T1, []) == []

    def test_summary_of_completed_episode(self, storage: StorageBackend) -> None:
        ep = _store(storage, make_episode(tenant=T1), [make_step(1), make_step(2)], completed=True)
        (s,) = storage.get_summaries(T1, [ep.id])
        assert _dump(s, {"version"}) == _dump(ep.summary(), {"version"})
        assert s.status is EpisodeStatus.COMPLETED and s.outcome is OutcomeType.SUCCESS
        assert ep.reward is not None and s.reward == ep.reward.total

    def test_list_newest_first_and_pages_cover_everything_once(
        self, storage: StorageBackend
    ) -> None:
        written = []
        for i in range(23):
            # groups of three share a start time: order within them is by id, descending
            started = BASE_TIME + timedelta(minutes=i // 3)
            written.append(_store(storage, make_episode(f"t{i}", tenant=T1, started_at=started)))
        expected = _newest_first([e.summary() for e in written])
        for limit in (1, 3, 5, 23, 100):
            got = [s.id for s in _all_pages(storage, T1, EpisodeFilter(), limit)]
            assert got == expected, f"limit={limit}"
        page = storage.list_episodes(T1, EpisodeFilter(), 100)
        assert page.next_cursor is None

    def test_cursor_is_stable_when_newer_episodes_arrive(self, storage: StorageBackend) -> None:
        old = [
            _store(
                storage,
                make_episode(f"o{i}", tenant=T1, started_at=BASE_TIME + timedelta(seconds=i)),
            )
            for i in range(6)
        ]
        first = storage.list_episodes(T1, EpisodeFilter(), 3)
        assert first.next_cursor is not None
        _store(storage, make_episode("newest", tenant=T1, started_at=BASE_TIME + timedelta(days=1)))
        rest = _all_pages_from(storage, T1, first.next_cursor, 3)
        seen = [s.id for s in first.items] + [s.id for s in rest]
        assert seen == _newest_first([e.summary() for e in old])

    def test_invalid_cursor(self, storage: StorageBackend) -> None:
        _store(storage, make_episode(tenant=T1))
        for bad in ("not a cursor!", "", "Zm9v", "%%%%"):
            with pytest.raises(InvalidInputError) as info:
                storage.list_episodes(T1, EpisodeFilter(), 10, bad)
            assert info.value.field == "cursor"

    def test_filters_match_reference_semantics(self, storage: StorageBackend) -> None:
        written = _corpus(storage, T1)
        _corpus(storage, T2, n=8, seed=3)  # another tenant's rows must never count
        summaries = storage.get_summaries(T1, [e.id for e in written])
        assert len(summaries) == len(written)

        matched: list[int] = []

        @settings(
            max_examples=100,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(f=_filters)
        def check(f: EpisodeFilter) -> None:
            expected = _newest_first([s for s in summaries if f.matches(s)])
            matched.append(len(expected))
            got = [s.id for s in _all_pages(storage, T1, f, 7)]
            assert got == expected
            assert storage.count_episodes(T1, f) == len(expected)
            hits = storage.lexical_search(T1, "common shared", 1000, f)
            assert _ids(hits) == set(expected)

        check()
        # the examples must exercise real subsets, not mostly empty answers
        assert sum(1 for n in matched if 0 < n < len(written)) >= len(matched) // 3

    def test_every_filter_field_alone(self, storage: StorageBackend) -> None:
        written = _corpus(storage, T1)
        summaries = storage.get_summaries(T1, [e.id for e in written])
        single = [
            EpisodeFilter(domain="data"),
            EpisodeFilter(task_type=TaskType.TESTING),
            EpisodeFilter(outcome=OutcomeType.FAILURE),
            EpisodeFilter(status=EpisodeStatus.IN_PROGRESS),
            EpisodeFilter(status=EpisodeStatus.COMPLETED),
            EpisodeFilter(language="rust"),
            EpisodeFilter(framework="django"),
            EpisodeFilter(tags=["api"]),
            EpisodeFilter(tags=["api", "db"]),
            EpisodeFilter(since=BASE_TIME + timedelta(hours=5)),
            EpisodeFilter(until=(BASE_TIME + timedelta(hours=5)).astimezone(PLUS_FIVE)),
        ]
        for f in single:
            expected = _newest_first([s for s in summaries if f.matches(s)])
            assert 0 < len(expected) < len(written), f"corpus does not exercise {f}"
            assert [s.id for s in _all_pages(storage, T1, f, 50)] == expected, f
            assert storage.count_episodes(T1, f) == len(expected), f

    def test_count_episodes(self, storage: StorageBackend) -> None:
        assert storage.count_episodes(T1, EpisodeFilter()) == 0
        _store(storage, make_episode(tenant=T1))
        _store(storage, make_episode(tenant=T1), [make_step(1)], completed=True)
        assert storage.count_episodes(T1, EpisodeFilter()) == 2
        assert storage.count_episodes(T1, EpisodeFilter(status=EpisodeStatus.COMPLETED)) == 1

    # -- completion and extraction -----------------------------------------------------

    def test_complete_round_trips_and_bumps_version(self, storage: StorageBackend) -> None:
        ep = make_episode(tenant=T1)
        storage.create_episode(ep)
        storage.append_steps(T1, ep.id, [make_step(1), make_step(2, error="boom")])
        before = storage.get_episode(T1, ep.id)
        assert before is not None
        done = complete(before, outcome=OutcomeType.PARTIAL_SUCCESS, pattern_ids=[uuid.uuid4()])
        done = done.model_copy(update={"completed_at": BASE_TIME.astimezone(PLUS_FIVE)})
        storage.complete_episode(done, Extraction())
        read = storage.get_episode(T1, ep.id)
        assert_same_episode(read, done)
        assert read is not None and read.version > before.version
        assert read.status is EpisodeStatus.COMPLETED

    def test_complete_unknown_episode(self, storage: StorageBackend) -> None:
        with pytest.raises(EpisodeNotFoundError):
            storage.complete_episode(complete(make_episode(tenant=T1)), Extraction())

    def test_complete_twice_is_a_state_error(self, storage: StorageBackend) -> None:
        ep = _store(storage, make_episode(tenant=T1), [make_step(1)], completed=True)
        with pytest.raises(EpisodeStateError):
            storage.complete_episode(complete(ep, verdict="again"), Extraction())
        read = storage.get_episode(T1, ep.id)
        assert read is not None and read.outcome is not None and read.outcome.verdict == "done"

    def test_complete_with_extraction_writes_everything(self, storage: StorageBackend) -> None:
        ep = make_episode(tenant=T1)
        storage.create_episode(ep)
        storage.append_steps(T1, ep.id, [make_step(1)])
        p = make_pattern("seq:grep>edit", tenant=T1, episode_ids=[ep.id])
        h = make_heuristic("retry-on-timeout", tenant=T1, confidence=0.7)
        vec = unit_vectors(2, 8, seed=1)
        extraction = Extraction(
            patterns=[p],
            heuristics=[h],
            embeddings=[
                make_embedding(ep.id, 0, MODEL, vec[0]),
                make_embedding(ep.id, 1, MODEL, vec[1]),
            ],
        )
        done = complete(ep.model_copy(update={"steps": [make_step(1)]}), pattern_ids=[p.id])
        storage.complete_episode(done, extraction)
        assert storage.pending_extractions() == []
        got = storage.get_pattern(T1, p.id)
        assert got is not None and got.support == 1 and got.episode_ids == [ep.id]
        assert storage.list_heuristics(T1, 10) == [h]
        hits = storage.vector_search(T1, MODEL, vec[1], 1, EpisodeFilter())
        assert [(h.episode_id, h.item) for h in hits] == [(ep.id, 1)]
        stats = storage.stats(T1)
        assert (stats.patterns, stats.heuristics, stats.embeddings) == (1, 1, 2)

    def test_complete_without_extraction_is_pending_until_applied(
        self, storage: StorageBackend
    ) -> None:
        ep = make_episode(tenant=T1)
        storage.create_episode(ep)
        storage.append_steps(T1, ep.id, [make_step(1)])
        done = complete(ep.model_copy(update={"steps": [make_step(1)]}))
        storage.complete_episode(done, None)
        assert storage.pending_extractions() == [(T1, ep.id)]
        assert storage.stats(T1).pending_extractions == 1
        read = storage.get_episode(T1, ep.id)
        assert_same_episode(read, done)

        p = make_pattern("seq:a>b", tenant=T1, episode_ids=[ep.id], support=1, successes=1)
        extraction = Extraction(
            patterns=[p],
            embeddings=[make_embedding(ep.id, 0, MODEL, unit_vectors(1, 4)[0])],
        )
        storage.apply_extraction(T1, ep.id, extraction)
        assert storage.pending_extractions() == []
        storage.apply_extraction(T1, ep.id, extraction)  # idempotent: no double counting
        got = storage.get_pattern(T1, p.id)
        assert got is not None and got.support == 1 and got.episode_ids == [ep.id]
        assert storage.stats(T1).embeddings == 1
        assert storage.stats(T1).pending_extractions == 0

    def test_pending_extractions_limit_and_tenants(self, storage: StorageBackend) -> None:
        expected = set()
        for tenant in (T1, T2):
            for i in range(3):
                ep = make_episode(f"p{i}", tenant=tenant)
                storage.create_episode(ep)
                storage.complete_episode(complete(ep), None)
                expected.add((tenant, ep.id))
        _store(storage, make_episode(tenant=T1), completed=True)  # with extraction: not pending
        assert set(storage.pending_extractions()) == expected
        assert len(storage.pending_extractions(limit=2)) == 2

    def test_apply_extraction_to_unknown_episode_does_nothing(
        self, storage: StorageBackend
    ) -> None:
        p = make_pattern("ghost", tenant=T1)
        storage.apply_extraction(T1, uuid.uuid4(), Extraction(patterns=[p]))
        assert storage.get_pattern(T1, p.id) is None

    # -- delete ------------------------------------------------------------------------

    def test_delete_erases_everywhere(self, storage: StorageBackend) -> None:
        keep = make_episode("keep the zebra task", tenant=T1)
        gone = make_episode("erase the zebra task", tenant=T1)
        p = make_pattern("shared-key", tenant=T1)
        vec = unit_vectors(4, 8, seed=2)
        for i, ep in enumerate((keep, gone)):
            storage.create_episode(ep)
            storage.append_steps(T1, ep.id, [make_step(1, output="zebra output")])
            storage.complete_episode(
                complete(ep.model_copy(update={"steps": [make_step(1, output="zebra output")]})),
                Extraction(
                    patterns=[p.model_copy(update={"episode_ids": [ep.id]})],
                    embeddings=[
                        make_embedding(ep.id, 0, MODEL, vec[2 * i]),
                        make_embedding(ep.id, 1, MODEL, vec[2 * i + 1]),
                    ],
                ),
            )
        storage.record_pattern_usage(T1, p.id, gone.id, True)
        storage.record_pattern_usage(T1, p.id, keep.id, False)
        gen = storage.generation(T1)

        assert storage.delete_episode(T1, gone.id) is True
        assert storage.generation(T1) > gen
        assert storage.get_episode(T1, gone.id) is None
        assert storage.get_steps(T1, gone.id, [1]) == []
        assert [s.id for s in storage.get_summaries(T1, [gone.id, keep.id])] == [keep.id]
        assert [s.id for s in _all_pages(storage, T1, EpisodeFilter(), 10)] == [keep.id]
        assert storage.count_episodes(T1, EpisodeFilter()) == 1
        assert _ids(storage.lexical_search(T1, "zebra", 10, EpisodeFilter())) == {keep.id}
        for v in vec:
            assert _ids(storage.vector_search(T1, MODEL, v, 10, EpisodeFilter())) == {keep.id}
        pat = storage.get_pattern(T1, p.id)
        assert pat is not None and pat.episode_ids == [keep.id]
        assert (pat.applications, pat.application_successes) == (1, 0)
        stats = storage.stats(T1)
        assert (stats.episodes, stats.steps, stats.embeddings) == (1, 1, 2)
        assert storage.delete_episode(T1, gone.id) is False

    def test_delete_pending_episode_clears_pending(self, storage: StorageBackend) -> None:
        ep = make_episode(tenant=T1)
        storage.create_episode(ep)
        storage.complete_episode(complete(ep), None)
        assert storage.delete_episode(T1, ep.id) is True
        assert storage.pending_extractions() == []
        storage.apply_extraction(T1, ep.id, Extraction(patterns=[make_pattern("x", tenant=T1)]))
        assert storage.list_patterns(T1, PatternFilter(), 10) == []

    def test_delete_unknown(self, storage: StorageBackend) -> None:
        assert storage.delete_episode(T1, uuid.uuid4()) is False

    # -- lexical search ----------------------------------------------------------------

    def test_lexical_finds_task_and_step_words(self, storage: StorageBackend) -> None:
        a = make_episode("configure the kubernetes ingress", tenant=T1)
        b = make_episode("write a parser for invoices", tenant=T1)
        _store(
            storage,
            a,
            [make_step(1, output="applied manifest"), make_step(2, output="pods running")],
        )
        _store(storage, b, [make_step(1, action="read file", output="found a zeppelin token")])
        hits = storage.lexical_search(T1, "zeppelin", 10, EpisodeFilter())
        assert [(h.episode_id, h.item) for h in hits] == [(b.id, 1)]
        hits = storage.lexical_search(T1, "kubernetes", 10, EpisodeFilter())
        assert [(h.episode_id, h.item) for h in hits] == [(a.id, 0)]
        hits = storage.lexical_search(T1, "pods", 10, EpisodeFilter())
        assert [(h.episode_id, h.item) for h in hits] == [(a.id, 2)]
        assert all(h.score > 0 for h in storage.lexical_search(T1, "pods", 10, EpisodeFilter()))

    def test_lexical_or_semantics_and_ranking(self, storage: StorageBackend) -> None:
        both = make_episode("migrate postgres schema", tenant=T1)
        one = make_episode("migrate redis keys", tenant=T1)
        none = make_episode("paint the fence", tenant=T1)
        for ep in (both, one, none):
            _store(storage, ep)
        hits = storage.lexical_search(T1, "postgres schema nonexistentword", 10, EpisodeFilter())
        assert [h.episode_id for h in hits] == [both.id]
        hits = storage.lexical_search(T1, "migrate postgres", 10, EpisodeFilter())
        assert [h.episode_id for h in hits] == [both.id, one.id]
        assert hits[0].score > hits[1].score > 0
        assert storage.lexical_search(T1, "nonexistentword", 10, EpisodeFilter()) == []

    def test_lexical_hits_name_the_query_terms_they_hold(self, storage: StorageBackend) -> None:
        """Calibrated relevance weighs the matched terms (``SearchHit.terms``), in the
        analyser's form and query order, each once."""
        ep = make_episode("migrate the postgres schemas", tenant=T1)
        _store(storage, ep, [make_step(1, output="migrated schema of postgres, postgres ok")])
        hits = storage.lexical_search(
            T1, "Postgres schema migration zzz postgres", 10, EpisodeFilter()
        )
        assert {(h.item, h.terms) for h in hits} == {
            (0, ("postgr", "schema", "migrat")),
            (1, ("postgr", "schema", "migrat")),
        }
        (only,) = storage.lexical_search(T1, "pods ok", 10, EpisodeFilter())
        assert (only.item, only.terms) == (1, ("ok",))

    def test_lexical_is_case_insensitive_and_tolerates_punctuation(
        self, storage: StorageBackend
    ) -> None:
        ep = make_episode("Deploy the GATEWAY service", tenant=T1)
        _store(storage, ep)
        for q in (
            "gateway",
            "GATEWAY",
            "gateway?",
            '"gateway"',
            "gateway AND",
            "(gateway) *",
            "gate-way gateway",
        ):
            assert _ids(storage.lexical_search(T1, q, 10, EpisodeFilter())) == {ep.id}, q
        for q in ("", "   ", "?!", '"', "AND OR NOT"):
            assert storage.lexical_search(T1, q, 10, EpisodeFilter()) == [], q

    def test_lexical_limit_and_order(self, storage: StorageBackend) -> None:
        for i in range(12):
            _store(storage, make_episode("alpha " * (i % 3 + 1) + f"filler {i}", tenant=T1))
        hits = storage.lexical_search(T1, "alpha", 5, EpisodeFilter())
        assert len(hits) == 5
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)

    def test_lexical_filters_apply_before_limit(self, storage: StorageBackend) -> None:
        for i in range(20):
            _store(storage, make_episode(f"needle needle {i}", tenant=T1, domain="web"))
        long_text = "needle in a long haystack of many other words " + "hay " * 30
        target = _store(storage, make_episode(long_text, tenant=T1, domain="rare"))
        hits = storage.lexical_search(T1, "needle", 1, EpisodeFilter(domain="rare"))
        assert [h.episode_id for h in hits] == [target.id]

    def test_lexical_sees_completed_and_appended_text(self, storage: StorageBackend) -> None:
        ep = make_episode("start", tenant=T1)
        storage.create_episode(ep)
        assert storage.lexical_search(T1, "quokka", 10, EpisodeFilter()) == []
        storage.append_steps(T1, ep.id, [make_step(1, output="a quokka appeared")])
        assert _ids(storage.lexical_search(T1, "quokka", 10, EpisodeFilter())) == {ep.id}

    # -- vector search -----------------------------------------------------------------

    def _vector_corpus(
        self, storage: StorageBackend, tenant: str, seed: int
    ) -> tuple[list[Episode], list[EmbeddingRecord], np.ndarray]:
        episodes = []
        for i in range(50):
            ep = make_episode(f"vec {i}", tenant=tenant, domain="even" if i % 2 == 0 else "odd")
            _store(storage, ep, [make_step(n) for n in range(1, 10)])
            episodes.append(ep)
        vecs = unit_vectors(500, 32, seed=seed)
        records = [make_embedding(episodes[k // 10].id, k % 10, MODEL, vecs[k]) for k in range(500)]
        storage.put_embeddings(tenant, records[:250])
        storage.put_embeddings(tenant, records[250:])
        return episodes, records, vecs

    def test_vector_search_equals_exact_top_k(self, storage: StorageBackend) -> None:
        episodes, records, vecs = self._vector_corpus(storage, T1, seed=11)
        # another model's vectors in the same episodes: identical to the queries, never returned
        queries = unit_vectors(10, 32, seed=12)
        storage.put_embeddings(
            T1, [make_embedding(episodes[0].id, 9, OTHER_MODEL, q) for q in queries[:1]]
        )
        domain_of = {ep.id: ep.context.domain for ep in episodes}
        for qi, q in enumerate(queries):
            scores = vecs @ q
            for f in (EpisodeFilter(), EpisodeFilter(domain="odd")):
                idx = [
                    k
                    for k in range(500)
                    if f.domain is None or domain_of[records[k].episode_id] == f.domain
                ]
                top = sorted(idx, key=lambda k: -scores[k])[:10]
                expected = [(records[k].episode_id, records[k].item) for k in top]
                query = q * 3.0 if qi % 2 else q  # cosine: the query's length must not matter
                hits = storage.vector_search(T1, MODEL, query.astype(np.float32), 10, f)
                assert [(h.episode_id, h.item) for h in hits] == expected
                np.testing.assert_allclose(
                    [h.score for h in hits], [scores[k] for k in top], atol=1e-4
                )

    def test_vector_search_never_mixes_models(self, storage: StorageBackend) -> None:
        ep = make_episode(tenant=T1)
        _store(storage, ep, [make_step(1)])
        a, b = unit_vectors(2, 16, seed=5)
        storage.put_embeddings(T1, [make_embedding(ep.id, 0, MODEL, a)])
        storage.put_embeddings(T1, [make_embedding(ep.id, 1, OTHER_MODEL, b)])
        assert [(h.item) for h in storage.vector_search(T1, MODEL, b, 10, EpisodeFilter())] == [0]
        assert [
            (h.item) for h in storage.vector_search(T1, OTHER_MODEL, a, 10, EpisodeFilter())
        ] == [1]
        assert storage.vector_search(T1, "test:absent", a, 10, EpisodeFilter()) == []

    def test_put_embeddings_replaces_by_key(self, storage: StorageBackend) -> None:
        ep = make_episode(tenant=T1)
        _store(storage, ep)
        a, b = unit_vectors(2, 8, seed=9)
        storage.put_embeddings(T1, [make_embedding(ep.id, 0, MODEL, a)])
        storage.put_embeddings(T1, [make_embedding(ep.id, 0, MODEL, b)])
        assert storage.stats(T1).embeddings == 1
        (hit,) = storage.vector_search(T1, MODEL, b, 10, EpisodeFilter())
        assert hit.score == pytest.approx(1.0, abs=1e-5)

    def test_embedding_models_and_delete(self, storage: StorageBackend) -> None:
        ep1 = make_episode(tenant=T1)
        ep2 = make_episode(tenant=T2)
        _store(storage, ep1)
        _store(storage, ep2)
        storage.put_embeddings(T1, [make_embedding(ep1.id, 0, MODEL, unit_vectors(1, 8)[0])])
        storage.put_embeddings(T2, [make_embedding(ep2.id, 0, MODEL, unit_vectors(1, 8, 1)[0])])
        storage.put_embeddings(T1, [make_embedding(ep1.id, 0, OTHER_MODEL, unit_vectors(1, 4)[0])])
        models = {m.model_id: (m.dimension, m.count) for m in storage.embedding_models()}
        assert models == {MODEL: (8, 2), OTHER_MODEL: (4, 1)}
        assert storage.delete_embeddings(MODEL) == 2
        assert storage.delete_embeddings(MODEL) == 0
        assert [m.model_id for m in storage.embedding_models()] == [OTHER_MODEL]
        assert storage.vector_search(T1, MODEL, unit_vectors(1, 8)[0], 10, EpisodeFilter()) == []

    def test_missing_embeddings(self, storage: StorageBackend) -> None:
        """Completed episodes without a task-text vector of the model, in (tenant, id)
        order, paged by ``after``; in-progress episodes and step-only vectors excluded."""
        done = [_store(storage, make_episode(tenant=t), completed=True) for t in (T2, T1, T1)]
        _store(storage, make_episode(tenant=T1))  # in progress: nothing to embed yet
        vec = unit_vectors(1, 8)[0]
        storage.put_embeddings(T1, [make_embedding(done[1].id, 0, MODEL, vec)])
        storage.put_embeddings(T1, [make_embedding(done[2].id, 1, MODEL, vec)])  # a step only
        storage.put_embeddings(T2, [make_embedding(done[0].id, 0, OTHER_MODEL, vec[:4])])
        want = sorted([(T1, done[2].id), (T2, done[0].id)], key=lambda m: (m[0], str(m[1])))
        assert storage.missing_embeddings(MODEL) == want
        assert storage.missing_embeddings(MODEL, limit=1) == want[:1]
        assert storage.missing_embeddings(MODEL, after=want[0]) == want[1:]
        assert storage.missing_embeddings(MODEL, after=want[1]) == []
        everything = sorted(((e.tenant, e.id) for e in done), key=lambda m: (m[0], str(m[1])))
        assert storage.missing_embeddings("test:absent") == everything
        storage.put_embeddings(T1, [make_embedding(done[2].id, 0, MODEL, vec)])
        assert storage.missing_embeddings(MODEL) == [(T2, done[0].id)]
        storage.delete_episode(T2, done[0].id)
        assert storage.missing_embeddings(MODEL) == []
        with pytest.raises(InvalidInputError) as info:
            storage.missing_embeddings(MODEL, limit=-1)
        assert info.value.field == "limit"

    # -- patterns ----------------------------------------------------------------------

    def test_pattern_insert_and_round_trip(self, storage: StorageBackend) -> None:
        p = make_pattern(
            "k1",
            tenant=T1,
            description="Ünïcode pattern ✓",
            kind=PatternKind.ERROR_RECOVERY,
            support=3,
            successes=2.5,
            episode_ids=[uuid.uuid4()],
            created_at=BASE_TIME.astimezone(PLUS_FIVE),
        ).model_copy(update={"condition": "on timeout", "action": "retry"})
        (stored,) = storage.upsert_patterns(T1, [p])
        assert _dump(stored, _IGNORED_ON_WRITE) == _dump(p, _IGNORED_ON_WRITE)
        assert storage.get_pattern(T1, p.id) == stored

    def test_pattern_merge_on_write(self, storage: StorageBackend) -> None:
        e1, e2, e3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        first = make_pattern("same", tenant=T1, support=2, successes=1.0, episode_ids=[e1, e2])
        (s1,) = storage.upsert_patterns(T1, [first])
        second = make_pattern("same", tenant=T1, support=1, successes=1.0, episode_ids=[e3])
        other = make_pattern("different", tenant=T1)
        s2, s_other = storage.upsert_patterns(T1, [second, other])
        assert s2.id == first.id and s_other.id == other.id
        assert (s2.support, s2.successes) == (3, 2.0)
        assert s2.episode_ids == [e1, e2, e3]
        assert s2.version > s1.version
        assert s2.updated_at >= s1.updated_at
        assert len(storage.list_patterns(T1, PatternFilter(), 100)) == 2
        assert storage.get_pattern(T1, first.id) == s2

    def test_pattern_merge_within_one_call(self, storage: StorageBackend) -> None:
        a = make_pattern("dup", tenant=T1, support=1, episode_ids=[uuid.uuid4()])
        b = make_pattern("dup", tenant=T1, support=1, episode_ids=[uuid.uuid4()])
        r1, r2 = storage.upsert_patterns(T1, [a, b])
        assert r1.support == 1 and r2.support == 2
        assert storage.get_pattern(T1, a.id) == r2

    def test_pattern_episode_ids_keep_newest_fifty(self, storage: StorageBackend) -> None:
        ids = [uuid.uuid4() for _ in range(60)]
        for chunk in (ids[:30], ids[30:]):
            storage.upsert_patterns(
                T1, [make_pattern("many", tenant=T1, support=len(chunk), episode_ids=chunk)]
            )
        got = storage.get_pattern(T1, Pattern.make_id(T1, "many"))
        assert got is not None and got.support == 60
        assert got.episode_ids == ids[10:]

    def test_get_patterns_in_order_asked(self, storage: StorageBackend) -> None:
        ps = storage.upsert_patterns(T1, [make_pattern(f"k{i}", tenant=T1) for i in range(4)])
        ask = [ps[3].id, uuid.uuid4(), ps[1].id]
        assert storage.get_patterns(T1, ask) == [ps[3], ps[1]]
        assert storage.get_pattern(T1, uuid.uuid4()) is None

    def test_list_patterns_filters_and_order(self, storage: StorageBackend) -> None:
        specs = [
            ("a", PatternKind.TOOL_SEQUENCE, TaskType.DEBUGGING, "web", 10, 9.0),
            ("b", PatternKind.TOOL_SEQUENCE, TaskType.TESTING, "web", 2, 2.0),
            ("c", PatternKind.ERROR_RECOVERY, TaskType.DEBUGGING, "data", 40, 30.0),
            ("d", PatternKind.DECISION_POINT, None, None, 5, 1.0),
            ("e", PatternKind.CONTEXT_PATTERN, TaskType.DEBUGGING, "web", 10, 9.0),
            ("f", PatternKind.TOOL_SEQUENCE, TaskType.DEBUGGING, "web", 0, 0.0),
        ]
        stored = storage.upsert_patterns(
            T1,
            [
                make_pattern(
                    k, tenant=T1, kind=kind, task_type=tt, domain=dom, support=sup, successes=suc
                )
                for k, kind, tt, dom, sup, suc in specs
            ],
        )
        filters = [
            PatternFilter(),
            PatternFilter(kind=PatternKind.TOOL_SEQUENCE),
            PatternFilter(task_type=TaskType.DEBUGGING),
            PatternFilter(domain="web"),
            PatternFilter(min_support=5),
            PatternFilter(min_success_rate=0.8),
            PatternFilter(kind=PatternKind.TOOL_SEQUENCE, domain="web", min_support=1),
        ]
        for f in filters:
            expected = {
                p.id
                for p in stored
                if (f.kind is None or p.kind == f.kind)
                and (f.task_type is None or p.task_type == f.task_type)
                and (f.domain is None or p.domain == f.domain)
                and p.support >= f.min_support
                and p.success_rate >= f.min_success_rate
            }
            got = storage.list_patterns(T1, f, 100)
            assert {p.id for p in got} == expected, f
            keys = [(round(p.confidence, 9), p.support) for p in got]
            assert keys == sorted(keys, reverse=True), f
        assert len(storage.list_patterns(T1, PatternFilter(), 2)) == 2
        assert storage.list_patterns(T1, PatternFilter(), 2)[0].key == "c"

    def test_search_patterns(self, storage: StorageBackend) -> None:
        storage.upsert_patterns(
            T1,
            [
                make_pattern("p1", tenant=T1, description="retry the flaky network call"),
                make_pattern("p2", tenant=T1, description="run the linter before commit"),
                make_pattern(
                    "p3",
                    tenant=T1,
                    description="network network timeout on network mounts",
                    kind=PatternKind.ERROR_RECOVERY,
                ),
            ],
        )
        got = storage.search_patterns(T1, "network", 10, PatternFilter())
        assert [p.key for p, _ in got] == ["p3", "p1"]
        assert got[0][1] > got[1][1] > 0
        got = storage.search_patterns(
            T1, "network", 10, PatternFilter(kind=PatternKind.TOOL_SEQUENCE)
        )
        assert [p.key for p, _ in got] == ["p1"]
        assert storage.search_patterns(T1, "absentword", 10, PatternFilter()) == []
        assert len(storage.search_patterns(T1, "network linter", 1, PatternFilter())) == 1

    def test_record_pattern_usage_is_idempotent_per_episode(self, storage: StorageBackend) -> None:
        (p,) = storage.upsert_patterns(T1, [make_pattern("u", tenant=T1)])
        e1, e2 = uuid.uuid4(), uuid.uuid4()
        r = storage.record_pattern_usage(T1, p.id, e1, True)
        assert (r.applications, r.application_successes) == (1, 1)
        r = storage.record_pattern_usage(T1, p.id, e1, True)
        assert (r.applications, r.application_successes) == (1, 1)
        r = storage.record_pattern_usage(T1, p.id, e1, False)
        assert (r.applications, r.application_successes) == (1, 0)
        r = storage.record_pattern_usage(T1, p.id, e2, True)
        assert (r.applications, r.application_successes) == (2, 1)
        assert r.support == p.support and r.successes == p.successes
        assert storage.get_pattern(T1, p.id) == r
        # merging new observations keeps the usage counters
        (merged,) = storage.upsert_patterns(T1, [make_pattern("u", tenant=T1)])
        assert (merged.applications, merged.application_successes) == (2, 1)

    def test_pattern_usage_history_is_latest_first_and_bounded(
        self, storage: StorageBackend
    ) -> None:
        (p,) = storage.upsert_patterns(T1, [make_pattern("h", tenant=T1)])
        episodes = [uuid.uuid4() for _ in range(4)]
        for e, ok in zip(episodes, (True, False, True, True), strict=True):
            storage.record_pattern_usage(T1, p.id, e, ok)
        assert storage.pattern_usage_history(T1, p.id, 10) == [True, False, True, True]
        assert storage.pattern_usage_history(T1, p.id, 2) == [True, True]
        # re-recording an episode replaces its result and makes it the latest
        storage.record_pattern_usage(T1, p.id, episodes[0], False)
        assert storage.pattern_usage_history(T1, p.id, 10) == [False, True, True, False]
        assert storage.pattern_usage_history(T2, p.id, 10) == []
        assert storage.pattern_usage_history(T1, uuid.uuid4(), 10) == []

    def test_record_pattern_usage_unknown_pattern(self, storage: StorageBackend) -> None:
        with pytest.raises(PatternNotFoundError):
            storage.record_pattern_usage(T1, uuid.uuid4(), uuid.uuid4(), True)

    # -- heuristics --------------------------------------------------------------------

    def test_heuristics_upsert_by_key_and_list(self, storage: StorageBackend) -> None:
        hs = [
            make_heuristic(f"h{i}", tenant=T1, confidence=c) for i, c in enumerate((0.2, 0.9, 0.5))
        ]
        storage.upsert_heuristics(T1, hs)
        assert storage.list_heuristics(T1, 10) == [hs[1], hs[2], hs[0]]
        assert storage.list_heuristics(T1, 2) == [hs[1], hs[2]]
        assert storage.list_heuristics(T1, 10, min_confidence=0.5) == [hs[1], hs[2]]
        replaced = hs[0].model_copy(update={"confidence": 0.95, "action": "new action"})
        storage.upsert_heuristics(T1, [replaced])
        assert storage.list_heuristics(T1, 10) == [replaced, hs[1], hs[2]]
        assert storage.stats(T1).heuristics == 3

    # -- operations --------------------------------------------------------------------

    def test_stats_counts(self, storage: StorageBackend) -> None:
        empty = storage.stats(T1)
        assert isinstance(empty, StorageStats)
        assert (empty.episodes, empty.steps, empty.patterns) == (0, 0, 0)
        _store(storage, make_episode(tenant=T1), [make_step(1), make_step(2)])
        ep = make_episode(tenant=T1)
        _store(storage, ep, [make_step(1)], completed=True)
        storage.put_embeddings(T1, [make_embedding(ep.id, 0, MODEL, unit_vectors(1, 4)[0])])
        storage.upsert_patterns(T1, [make_pattern("s", tenant=T1)])
        storage.upsert_heuristics(T1, [make_heuristic("s", tenant=T1)])
        _store(storage, make_episode(tenant=T2), [make_step(1)])
        s = storage.stats(T1)
        assert (s.episodes, s.completed_episodes, s.steps) == (2, 1, 3)
        assert (s.patterns, s.heuristics, s.embeddings, s.pending_extractions) == (1, 1, 1, 0)
        everyone = storage.stats(None)
        assert (everyone.episodes, everyone.steps) == (3, 4)

    def test_generation_increases_on_every_write(self, storage: StorageBackend) -> None:
        gens = [storage.generation(T1)]

        def bumped() -> None:
            g = storage.generation(T1)
            assert g > gens[-1]
            gens.append(g)

        ep = make_episode(tenant=T1)
        storage.create_episode(ep)
        bumped()
        storage.append_steps(T1, ep.id, [make_step(1)])
        bumped()
        storage.put_embeddings(T1, [make_embedding(ep.id, 0, MODEL, unit_vectors(1, 4)[0])])
        bumped()
        storage.complete_episode(complete(ep.model_copy(update={"steps": [make_step(1)]})), None)
        bumped()
        storage.apply_extraction(T1, ep.id, Extraction(patterns=[make_pattern("g", tenant=T1)]))
        bumped()
        storage.upsert_patterns(T1, [make_pattern("g", tenant=T1)])
        bumped()
        storage.record_pattern_usage(T1, Pattern.make_id(T1, "g"), ep.id, True)
        bumped()
        storage.upsert_heuristics(T1, [make_heuristic("g", tenant=T1)])
        bumped()
        storage.delete_episode(T1, ep.id)
        bumped()

    # -- tenant isolation ----------------------------------------------------------------

    def test_tenant_isolation_for_every_read(self, storage: StorageBackend) -> None:
        vec = unit_vectors(2, 8, seed=21)
        made: dict[str, Episode] = {}
        for tenant in (T1, T2):
            ep = make_episode("isolated walrus task", tenant=tenant)
            steps = [make_step(1, output="walrus output")]
            p = make_pattern(
                "iso", tenant=tenant, description="walrus pattern", episode_ids=[ep.id]
            )
            _store(
                storage,
                ep,
                steps,
                completed=True,
                extraction=Extraction(
                    patterns=[p],
                    heuristics=[make_heuristic("iso", tenant=tenant)],
                    embeddings=[make_embedding(ep.id, 0, MODEL, vec[0])],
                ),
            )
            made[tenant] = ep
        e1, e2 = made[T1], made[T2]
        p1, p2 = Pattern.make_id(T1, "iso"), Pattern.make_id(T2, "iso")
        assert p1 != p2
        f = EpisodeFilter()
        assert storage.get_episode(T1, e2.id) is None
        assert storage.get_steps(T1, e2.id, [1]) == []
        assert [s.id for s in storage.get_summaries(T1, [e1.id, e2.id])] == [e1.id]
        assert [s.id for s in storage.list_episodes(T1, f, 10).items] == [e1.id]
        assert storage.count_episodes(T1, f) == 1
        assert _ids(storage.lexical_search(T1, "walrus", 10, f)) == {e1.id}
        assert _ids(storage.vector_search(T1, MODEL, vec[0], 10, f)) == {e1.id}
        assert storage.get_pattern(T1, p2) is None
        assert [p.id for p in storage.get_patterns(T1, [p1, p2])] == [p1]
        assert [p.id for p in storage.list_patterns(T1, PatternFilter(), 10)] == [p1]
        assert [p.id for p, _ in storage.search_patterns(T1, "walrus", 10, PatternFilter())] == [p1]
        assert [h.tenant for h in storage.list_heuristics(T1, 10)] == [T1]
        s = storage.stats(T1)
        assert (s.episodes, s.steps, s.patterns, s.heuristics, s.embeddings) == (1, 1, 1, 1, 1)
        # writes through the wrong tenant don't reach the other tenant's rows
        with pytest.raises(EpisodeNotFoundError):
            storage.append_steps(T1, e2.id, [make_step(2)])
        with pytest.raises(PatternNotFoundError):
            storage.record_pattern_usage(T1, p2, e1.id, True)
        assert storage.delete_episode(T1, e2.id) is False
        assert storage.get_episode(T2, e2.id) is not None
        # same key in two tenants: two patterns, merged separately
        storage.upsert_patterns(T1, [make_pattern("iso", tenant=T1)])
        p2_read = storage.get_pattern(T2, p2)
        p1_read = storage.get_pattern(T1, p1)
        assert p1_read is not None and p2_read is not None
        assert (p1_read.support, p2_read.support) == (2, 1)
        # and the same holds looking from the other side
        assert [s.id for s in storage.list_episodes(T2, f, 10).items] == [e2.id]
        assert _ids(storage.lexical_search(T2, "walrus", 10, f)) == {e2.id}
        assert storage.list_episodes("tenant-empty", f, 10).items == []
        assert storage.lexical_search("tenant-empty", "walrus", 10, f) == []
        assert storage.vector_search("tenant-empty", MODEL, vec[0], 10, f) == []
        assert storage.list_patterns("tenant-empty", PatternFilter(), 10) == []

    # -- round trip --------------------------------------------------------------------

    def test_full_episode_json_round_trip(self, storage: StorageBackend) -> None:
        ep = make_episode(
            "round trip ✓",
            tenant=T1,
            framework="axum",
            language="rust",
            tags=["a", "b", "ünï"],
            started_at=BASE_TIME.astimezone(PLUS_FIVE),
            metadata={"k": [1, {"x": None}], "f": 1.5e-7},
        )
        steps = [
            make_step(1, parameters={"deep": {"a": [1, [2, [3]]]}, "s": "\u0000-less\ttext\n"}),
            make_step(2, error="E: bad"),
            make_step(3, timeout=True),
        ]
        written = _store(storage, ep, steps, completed=True, outcome=OutcomeType.PARTIAL_SUCCESS)
        read = storage.get_episode(T1, ep.id)
        assert read is not None
        assert_same_episode(read, written)
        again = Episode.model_validate_json(read.model_dump_json())
        assert again == read
        assert read.started_at == written.started_at
        assert read.completed_at == written.completed_at
        assert [s.timestamp for s in read.steps] == [s.timestamp for s in steps]


def _all_pages_from(
    storage: StorageBackend, tenant: str, cursor: str, limit: int
) -> list[EpisodeSummary]:
    out: list[EpisodeSummary] = []
    next_cursor: str | None = cursor
    while next_cursor is not None:
        page = storage.list_episodes(tenant, EpisodeFilter(), limit, next_cursor)
        out.extend(page.items)
        next_cursor = page.next_cursor
    return out
