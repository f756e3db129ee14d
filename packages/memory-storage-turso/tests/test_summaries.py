"""Decoded summaries held by episode id (``_decoded.Summaries``): never stale (also after
another process's write, served unread only at the generation they were read at), never
another tenant's, never kept for a deleted episode, bounded."""

from __future__ import annotations

from memory_core import Episode, MemoryConfig, TaskContext


def test_a_changed_episode_is_read_as_it_now_is(store: object) -> None:
    ep = Episode(task_description="tune the cache", context=TaskContext(tags=["old"]))
    store.create_episode(ep)  # type: ignore[attr-defined]
    first = store.get_summaries(ep.tenant, [ep.id])  # type: ignore[attr-defined]
    assert first[0].context.tags == ["old"]
    first[0].context.tags.append("mutated by a caller")  # a copy: the cache is not touched
    store.update_episode_tags(ep.tenant, ep.id, ["new"])  # type: ignore[attr-defined]
    again = store.get_summaries(ep.tenant, [ep.id])  # type: ignore[attr-defined]
    assert again[0].context.tags == ["new"] and again[0].version == first[0].version + 1


def test_another_instances_write_is_seen(store: object, factory: object, db_url: str) -> None:
    """The summary held was read at the tenant's write generation: another process's
    write bumps it, so the next read reads the row again instead of serving the old one."""
    ep = Episode(task_description="tune the cache", context=TaskContext(tags=["old"]))
    store.create_episode(ep)  # type: ignore[attr-defined]
    assert store.get_summaries(ep.tenant, [ep.id])[0].context.tags == ["old"]  # type: ignore[attr-defined]
    assert store.get_summaries(ep.tenant, [ep.id])[0].context.tags == ["old"]  # type: ignore[attr-defined]
    other = factory.from_url(db_url, MemoryConfig())  # type: ignore[attr-defined]
    try:
        other.update_episode_tags(ep.tenant, ep.id, ["new"])
        other.create_episode(Episode(task_description="another"))
    finally:
        other.close()
    again = store.get_summaries(ep.tenant, [ep.id])  # type: ignore[attr-defined]
    assert again[0].context.tags == ["new"]


def test_an_episode_id_in_two_tenants_is_each_tenants_own(store: object) -> None:
    """Entries are held by episode id: one read in tenant a at generation 1 must not be
    served to tenant b at its own generation 1."""
    a = Episode(task_description="tenant a's task", tenant="a")
    b = a.model_copy(update={"tenant": "b", "task_description": "tenant b's task"})
    store.create_episode(a)  # type: ignore[attr-defined]
    store.create_episode(b)  # type: ignore[attr-defined]
    assert store.generation("a") == store.generation("b")  # type: ignore[attr-defined]
    for _ in range(2):
        assert store.get_summaries("a", [a.id])[0].task_description == "tenant a's task"  # type: ignore[attr-defined]
        assert store.get_summaries("b", [a.id])[0].task_description == "tenant b's task"  # type: ignore[attr-defined]
    assert store.get_summaries("c", [a.id]) == []  # type: ignore[attr-defined]


def test_a_deleted_episode_is_neither_returned_nor_held(store: object) -> None:
    eps = [Episode(task_description=f"task {i}") for i in range(3)]
    for ep in eps:
        store.create_episode(ep)  # type: ignore[attr-defined]
    ids = [e.id for e in eps]
    assert len(store.get_summaries("default", ids)) == 3  # type: ignore[attr-defined]
    held = store._summaries  # type: ignore[attr-defined]
    assert len(held) == 3
    assert store.delete_episode("default", ids[1])  # type: ignore[attr-defined]
    assert [s.id for s in store.get_summaries("default", ids)] == [ids[0], ids[2]]  # type: ignore[attr-defined]
    assert len(held) == 2  # its text is not kept in RAM


def test_the_summaries_held_are_bounded() -> None:
    from memory_storage_turso._decoded import Summaries
    from memory_storage_turso._episode_json import dump_episode

    held = Summaries(capacity=2)
    eps = [Episode(task_description=f"task {i}") for i in range(3)]
    for ep in eps:
        assert held.decoded(str(ep.id), dump_episode(ep), 0).id == ep.id
    assert len(held) == 2
    changed = eps[2].model_copy(update={"task_description": "task two, reworded"})
    assert held.decoded(str(changed.id), dump_episode(changed), 4).task_description == (
        "task two, reworded"
    )
    assert held.decoded(str(changed.id), dump_episode(changed), 4).step_count == 4
    assert len(held) == 2
