"""Decoded patterns held by id (``_decoded.Patterns``): served unread only at the write
generation they were read at, so another instance's write is seen, and never another
tenant's."""

from __future__ import annotations

from memory_core import Episode, MemoryConfig, Pattern, PatternKind


def _pattern(tenant: str, description: str) -> Pattern:
    return Pattern(
        id=Pattern.make_id("shared", "k"),  # the same id in every tenant
        tenant=tenant,
        kind=PatternKind.ERROR_RECOVERY,
        key="k",
        description=description,
        condition="timeout",
        action="backoff",
    )


def test_another_instances_write_is_seen(store: object, factory: object, db_url: str) -> None:
    p = _pattern("default", "retry flaky network calls")
    store.upsert_patterns("default", [p])  # type: ignore[attr-defined]
    for _ in range(2):  # read, then served from what is held
        (got,) = store.get_patterns("default", [p.id])  # type: ignore[attr-defined]
        assert got.applications == 0
    got.tools.append("mutated by a caller")  # a copy: what is held is not touched
    ep = Episode(task_description="a task the pattern was applied to")
    store.create_episode(ep)  # type: ignore[attr-defined]
    other = factory.from_url(db_url, MemoryConfig())  # type: ignore[attr-defined]
    try:
        other.record_pattern_usage("default", p.id, ep.id, True)
    finally:
        other.close()
    (again,) = store.get_patterns("default", [p.id])  # type: ignore[attr-defined]
    assert again.applications == 1 and again.tools == []


def test_a_pattern_id_in_two_tenants_is_each_tenants_own(store: object) -> None:
    a, b = _pattern("a", "tenant a's pattern"), _pattern("b", "tenant b's pattern")
    store.upsert_patterns("a", [a])  # type: ignore[attr-defined]
    store.upsert_patterns("b", [b])  # type: ignore[attr-defined]
    assert store.generation("a") == store.generation("b")  # type: ignore[attr-defined]
    for _ in range(2):
        assert store.get_patterns("a", [a.id])[0].description == "tenant a's pattern"  # type: ignore[attr-defined]
        assert store.get_patterns("b", [a.id])[0].description == "tenant b's pattern"  # type: ignore[attr-defined]
    assert store.get_patterns("c", [a.id]) == []  # type: ignore[attr-defined]
