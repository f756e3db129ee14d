"""``since``/``until`` as people write them, and the library's time window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from memory_core import Episode, InvalidInputError, SelfLearningMemory, TaskOutcome
from memory_core._timespec import parse_instant

NOW = datetime(2026, 12, 6, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01T14:30", datetime(2026, 12, 1, 14, 30, tzinfo=UTC)),
        ("2026-12-01T14:30:00Z", datetime(2026, 12, 1, 14, 30, tzinfo=UTC)),
        ("2026-12-01T14:30:00+01:00", datetime(2026, 12, 1, 13, 30, tzinfo=UTC)),
        ("7d", NOW - timedelta(days=7)),
        ("12h", NOW - timedelta(hours=12)),
        ("90m", NOW - timedelta(minutes=90)),
        ("2w", NOW - timedelta(weeks=2)),
        ("3 days ago", NOW - timedelta(days=3)),
        (" Last  Week ", NOW - timedelta(days=7)),
        ("last month", NOW - timedelta(days=30)),
        ("yesterday", datetime(2026, 12, 5, tzinfo=UTC)),
        ("today", datetime(2026, 12, 6, tzinfo=UTC)),
        ("now", NOW),
    ],
)
def test_accepted_forms(text: str, expected: datetime) -> None:
    assert parse_instant(text, "since", NOW) == expected


def test_datetimes_and_dates_pass_through_as_utc() -> None:
    naive = datetime(2026, 1, 2, 3, 4)
    assert parse_instant(naive, "since") == naive.replace(tzinfo=UTC)
    plus2 = datetime(2026, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=2)))
    assert parse_instant(plus2, "since") == datetime(2026, 1, 2, 1, 4, tzinfo=UTC)
    assert parse_instant(date(2026, 1, 2), "until") == datetime(2026, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["soon", "7 fortnights", "2026-13-01", "", "-3d", "d7"])
def test_bad_values_name_the_field_and_the_accepted_forms(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="until") as info:
        parse_instant(bad, "until", NOW)
    assert info.value.field == "until"
    assert "7d" in str(info.value) and "yesterday" in str(info.value)


def test_non_text_values_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="since must be a date or time"):
        parse_instant(7, "since")


def test_library_query_windows_by_start_time() -> None:
    memory = SelfLearningMemory()
    now = datetime.now(UTC)
    ids = {}
    for label, age in (("recent", 1), ("old", 40)):
        ep = Episode(
            task_description=f"tune the database connection pool ({label})",
            started_at=now - timedelta(days=age),
        )
        memory.import_episode(ep.model_copy(update={"outcome": TaskOutcome.success()}))
        ids[label] = ep.id
    query = "tune the database connection pool"

    def found(**window: object) -> set[object]:
        hits = memory.retrieve_relevant_context(query, limit=5, **window)
        return {h.episode.id for h in hits}

    assert found() == {ids["recent"], ids["old"]}
    assert found(since="7d") == {ids["recent"]}
    assert found(until="last month") == {ids["old"]}
    assert found(since=now - timedelta(days=60), until=now - timedelta(days=20)) == {ids["old"]}
    assert memory.query(query, since="yesterday", until="2999-01-01").episodes
    with pytest.raises(InvalidInputError, match=r"since .* must be before until"):
        memory.query(query, since="1d", until="3d")
    with pytest.raises(InvalidInputError) as info:
        memory.query(query, since="whenever")
    assert info.value.field == "since"
