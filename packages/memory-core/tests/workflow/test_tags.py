"""Tags after creation, search by tags, statistics; in-memory and libSQL."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import pytest
from memory_core import (
    EpisodeFilter,
    EpisodeNotFoundError,
    EpisodeStatus,
    InvalidInputError,
    SelfLearningMemory,
    TaskContext,
)

Run = Callable[..., UUID]
Opener = Callable[[], SelfLearningMemory]


def test_add_remove_set_list(memory: SelfLearningMemory, run: Run) -> None:
    eid = run(memory, "Add a health endpoint", ["read", "edit"])
    assert memory.list_tags(eid) == []
    assert memory.add_tags(eid, ["urgent", " api ", "urgent"]) == ["urgent", "api"]
    assert memory.add_tags(eid, ["api", "v2"]) == ["urgent", "api", "v2"]
    assert memory.remove_tags(eid, ["api", "absent"]) == ["urgent", "v2"]
    assert memory.set_tags(eid, ["release"]) == ["release"]
    assert memory.list_tags(eid) == ["release"]
    # The completed episode is read back with its new tags (the cache must not serve old ones).
    assert memory.get_episode(eid).context.tags == ["release"]
    assert memory.count_episodes({"tags": ["release"]}) == 1
    assert memory.count_episodes({"tags": ["urgent"]}) == 0


def test_tags_take_part_in_retrieval(memory: SelfLearningMemory, run: Run) -> None:
    a = run(memory, "Fix the login redirect bug", ["read", "edit", "test"])
    b = run(memory, "Fix the login session bug", ["read", "edit", "test"])
    memory.add_tags(b, ["auth"])
    hits = memory.retrieve_relevant_context("fix login bug", tags=["auth"])
    assert [h.episode.id for h in hits] == [b]
    ranked = memory.retrieve_relevant_context(
        "fix login bug", TaskContext(domain="web", tags=["auth"])
    )
    by_id = {h.episode.id: h for h in ranked}
    assert by_id[b].components.context > by_id[a].components.context


def test_search_any_and_all_paged(memory: SelfLearningMemory, run: Run) -> None:
    tags = [["x"], ["y"], ["x", "y"], [], ["z"], ["x"], ["y", "z"], ["x", "y", "z"]]
    ids = []
    for i, t in enumerate(tags):
        eid = run(memory, f"task number {i}", ["shell"], complete=i % 2 == 0)
        if t:
            memory.set_tags(eid, t)
        ids.append(eid)
    want_any = {ids[i] for i, t in enumerate(tags) if {"x", "y"} & set(t)}
    seen, cursor, pages = [], None, 0
    while True:
        page = memory.search_episodes_by_tags(["x", "y"], "any", limit=2, cursor=cursor)
        seen.extend(page.items)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [s.id for s in seen] == [
        s.id for s in sorted(seen, key=lambda s: (s.started_at, s.id), reverse=True)
    ]
    assert len(seen) == len(want_any) == 6 and {s.id for s in seen} == want_any
    assert pages == 3
    all_xy = memory.search_episodes_by_tags(["x", "y"], "all", limit=50)
    assert {s.id for s in all_xy.items} == {ids[2], ids[7]}
    only_done = memory.search_episodes_by_tags(
        ["x", "y"], "any", filters=EpisodeFilter(status=EpisodeStatus.COMPLETED)
    )
    assert {s.id for s in only_done.items} == {i for i in want_any if ids.index(i) % 2 == 0}


def test_tag_statistics(memory: SelfLearningMemory, run: Run) -> None:
    a = memory.start_episode("tagged at start", TaskContext(tags=["infra", "urgent"]))
    b = run(memory, "tagged later", ["shell"])
    c = run(memory, "to be deleted", ["shell"])
    memory.add_tags(b, ["urgent"])
    memory.add_tags(c, ["urgent", "temp"])
    memory.delete_episode(c)
    stats = {s.tag: s for s in memory.tag_statistics()}
    assert stats["urgent"].count == 2 and stats["infra"].count == 1
    assert stats["temp"].count == 0  # used once, its episode is gone
    assert [s.tag for s in memory.tag_statistics()][:2] == ["urgent", "infra"]
    assert stats["urgent"].last_used is not None
    assert stats["urgent"].last_used >= memory.get_episode(a).started_at


@pytest.mark.parametrize(
    ("tags", "field", "limit"),
    [
        ([f"t{i}" for i in range(33)], "tags", 32),
        (["ok", "x" * 513], "tags[1]", 512),
        (["  "], "tags[0]", None),
        (["a,b"], "tags[0]", None),
        (["line\nbreak"], "tags[0]", None),
    ],
)
def test_bad_tags_are_refused_without_writing(
    memory: SelfLearningMemory, tags: list[str], field: str, limit: int | None, run: Run
) -> None:
    eid = run(memory, "task", ["shell"])
    memory.set_tags(eid, ["keep"])
    with pytest.raises(InvalidInputError) as err:
        memory.add_tags(eid, tags)
    assert err.value.field == field and err.value.limit == limit
    assert memory.list_tags(eid) == ["keep"]


def test_total_tag_limit_and_lookup_errors(memory: SelfLearningMemory, run: Run) -> None:
    eid = run(memory, "task", ["shell"])
    memory.set_tags(eid, [f"a{i}" for i in range(30)])
    with pytest.raises(InvalidInputError) as err:
        memory.add_tags(eid, ["b1", "b2", "b3"])
    assert err.value.field == "tags" and err.value.limit == 32
    assert len(memory.list_tags(eid)) == 30
    with pytest.raises(EpisodeNotFoundError):
        memory.add_tags(eid, ["x"], tenant="other")
    with pytest.raises(InvalidInputError) as bad:
        memory.add_tags("not-a-uuid", ["x"])
    assert bad.value.field == "episode_id"
    with pytest.raises(InvalidInputError) as cur:
        memory.search_episodes_by_tags(["a1", "zz"], "any", cursor="garbage")
    assert cur.value.field == "cursor"
    with pytest.raises(InvalidInputError) as m:
        memory.search_episodes_by_tags(["a1"], "some")  # type: ignore[arg-type]
    assert m.value.field == "match"


def test_tags_persist_across_restart(durable: Callable[[], SelfLearningMemory], run: Run) -> None:
    with durable() as m:
        eid = run(m, "durable tags", ["shell"])
        m.add_tags(eid, ["kept", "also"])
        m.remove_tags(eid, ["also"])
    with durable() as m:
        assert m.list_tags(eid) == ["kept"]
        assert [s.id for s in m.search_episodes_by_tags(["kept", "nope"], "any").items] == [eid]
        stats = {s.tag: s for s in m.tag_statistics()}
        assert stats["kept"].count == 1 and stats["also"].count == 0


def test_tenants_are_separate(opener: Opener, run: Run) -> None:
    with opener() as m:
        a = run(m, "tenant a work", ["shell"], tenant="a")
        b = run(m, "tenant b work", ["shell"], tenant="b")
        m.add_tags(a, ["shared"], tenant="a")
        m.add_tags(b, ["shared"], tenant="b")
        assert [s.id for s in m.search_episodes_by_tags(["shared"], tenant="a").items] == [a]
        assert {s.tag: s.count for s in m.tag_statistics(tenant="b")} == {"shared": 1}
