"""Decoded summaries held by episode id (``_decoded.Summaries``): never stale, never
kept for a deleted episode, bounded."""

from __future__ import annotations

from memory_core import Episode, TaskContext


def test_a_changed_episode_is_read_as_it_now_is(store: object) -> None:
    ep = Episode(task_description="tune the cache", context=TaskContext(tags=["old"]))
    store.create_episode(ep)  # type: ignore[attr-defined]
    first = store.get_summaries(ep.tenant, [ep.id])  # type: ignore[attr-defined]
    assert first[0].context.tags == ["old"]
    first[0].context.tags.append("mutated by a caller")  # a copy: the cache is not touched
    store.update_episode_tags(ep.tenant, ep.id, ["new"])  # type: ignore[attr-defined]
    again = store.get_summaries(ep.tenant, [ep.id])  # type: ignore[attr-defined]
    assert again[0].context.tags == ["new"] and again[0].version == first[0].version + 1


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
