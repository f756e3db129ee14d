"""Typed links between episodes: add/remove/list, traversal, graph, cycles, order."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import pytest
from memory_core import EpisodeNotFoundError, InvalidInputError, SelfLearningMemory
from memory_core.workflow import (
    Relationship,
    RelationshipCycleError,
    RelationshipNotFoundError,
    RelationshipType,
)

Run = Callable[..., UUID]


def _episodes(memory: SelfLearningMemory, run: Run, n: int) -> list[UUID]:
    return [run(memory, f"episode {i}", ["shell"], complete=False) for i in range(n)]


def test_add_list_update_remove(memory: SelfLearningMemory, run: Run) -> None:
    a, b, c = _episodes(memory, run, 3)
    ab = memory.add_relationship(a, b, "depends_on", "needs the schema", 8)
    memory.add_relationship(c, a, RelationshipType.REFERENCES)
    assert ab.id == Relationship.make_id(a, RelationshipType.DEPENDS_ON, b)
    assert [r.id for r in memory.list_relationships(a, "out")] == [ab.id]
    assert [r.target_id for r in memory.list_relationships(a, "in")] == [a]
    both = memory.list_relationships(a)
    assert [r.priority for r in both] == [8, 5]  # by priority
    assert memory.list_relationships(a, types=["references"])[0].source_id == c
    again = memory.add_relationship(a, b, "depends_on", "needs the new schema", 3)
    assert again.created_at == ab.created_at and again.priority == 3
    assert len(memory.list_relationships(a, "out")) == 1
    assert memory.get_relationship(ab.id).reason == "needs the new schema"
    assert memory.remove_relationship(ab.id) is True
    assert memory.remove_relationship(ab.id) is False
    with pytest.raises(RelationshipNotFoundError):
        memory.get_relationship(ab.id)


def test_refusals(memory: SelfLearningMemory, run: Run) -> None:
    a, b = _episodes(memory, run, 2)
    cases = [
        (lambda: memory.add_relationship(a, a, "related_to"), "target_id", None),
        (lambda: memory.add_relationship(a, b, "kin_of"), "type", None),
        (lambda: memory.add_relationship(a, b, "blocks", priority=11), "priority", 10),
        (lambda: memory.add_relationship(a, b, "blocks", priority=0), "priority", 10),
        (lambda: memory.add_relationship(a, b, "blocks", "x" * 10_001), "reason", 10_000),
        (lambda: memory.list_relationships(a, "sideways"), "direction", None),  # type: ignore[arg-type]
        (lambda: memory.find_related_episodes(a, max_depth=11), "max_depth", 10),
    ]
    for call, field, limit in cases:
        with pytest.raises(InvalidInputError) as err:
            call()
        assert (err.value.field, err.value.limit) == (field, limit)
    with pytest.raises(EpisodeNotFoundError):
        memory.add_relationship(a, UUID(int=7), "related_to")
    other = run(memory, "other tenant", ["shell"], tenant="t2")
    with pytest.raises(EpisodeNotFoundError):
        memory.add_relationship(a, other, "related_to")
    assert memory.list_relationships(a) == []


def test_cycles_are_refused_for_acyclic_types(memory: SelfLearningMemory, run: Run) -> None:
    a, b, c, d = _episodes(memory, run, 4)
    memory.add_relationship(a, b, "depends_on")
    memory.add_relationship(b, c, "depends_on")
    with pytest.raises(RelationshipCycleError) as err:
        memory.add_relationship(c, a, "depends_on")
    assert err.value.field == "target_id"
    assert err.value.cycle[0] == err.value.cycle[-1] and set(err.value.cycle) == {a, b, c}
    # Precedence types are checked together: c blocks b means c first, b depends on c already.
    memory.add_relationship(c, b, "blocks")
    with pytest.raises(RelationshipCycleError):
        memory.add_relationship(a, c, "blocks")  # a first, but a depends on b depends on c
    with pytest.raises(RelationshipCycleError):
        memory.add_relationship(c, a, "follows")  # c after a, but a waits for c
    # Hierarchy is its own group; free types may loop.
    memory.add_relationship(a, b, "parent_child")
    with pytest.raises(RelationshipCycleError):
        memory.add_relationship(b, a, "parent_child")
    memory.add_relationship(c, a, "related_to")
    memory.add_relationship(a, c, "related_to")
    memory.add_relationship(d, a, "duplicates")
    assert memory.check_relationship_cycles().acyclic


def test_find_related_graph_and_order(memory: SelfLearningMemory, run: Run) -> None:
    a, b, c, d, e = _episodes(memory, run, 5)
    memory.add_relationship(b, a, "depends_on", "b needs a")
    memory.add_relationship(c, b, "depends_on")
    memory.add_relationship(d, c, "follows")
    memory.add_relationship(e, a, "references", 'quote " and \\ back')
    depth1 = memory.find_related_episodes(a, max_depth=1)
    assert {r.episode_id for r in depth1} == {b, e}
    deep = memory.find_related_episodes(a, max_depth=3, direction="in")
    assert [(r.episode_id, r.depth) for r in deep if r.episode_id != e] == [(b, 1), (c, 2), (d, 3)]
    assert deep[-1].path[0] == a and deep[-1].path[-1] in {d, e}
    assert [r.episode_id for r in memory.find_related_episodes(a, 3, "out")] == []
    only_dep = memory.find_related_episodes(a, 3, "both", types=["depends_on"])
    assert {r.episode_id for r in only_dep} == {b, c}

    graph = memory.relationship_graph(b, max_depth=1)
    assert {n.id for n in graph.nodes} == {a, b, c}
    assert len(graph.edges) == 2 and graph.root == b
    whole = memory.relationship_graph()
    assert {n.id for n in whole.nodes} == {a, b, c, d, e} and len(whole.edges) == 4
    assert type(whole).model_validate_json(whole.model_dump_json()) == whole
    dot = memory.relationship_graph_dot()
    assert dot.startswith("digraph episodes {") and dot.rstrip().endswith("}")
    assert dot.count(" -> ") == 4 and f'"{b}" -> "{a}"' in dot
    assert 'quote \\" and \\\\ back' in dot and "style=dashed" in dot

    order = memory.relationship_topological_order().order
    assert order.index(a) < order.index(b) < order.index(c) < order.index(d)
    assert e not in order  # references carry no order
    with pytest.raises(InvalidInputError) as err:
        memory.relationship_topological_order(types=["related_to"])
    assert err.value.field == "types"


def test_cycle_check_finds_races(memory: SelfLearningMemory, run: Run) -> None:
    """Two writers adding crossing links at once could both pass their checks; the
    cycle check and the topological order report it."""
    a, b = _episodes(memory, run, 2)
    memory.add_relationship(a, b, "depends_on")
    raced = Relationship(
        id=Relationship.make_id(b, RelationshipType.DEPENDS_ON, a),
        source_id=b,
        target_id=a,
        type=RelationshipType.DEPENDS_ON,
    )
    memory.storage.put_record(  # type: ignore[attr-defined]
        "default", "relationship", raced.id, raced.model_dump(mode="json"),
        episode_id=b, related_id=a,
    )  # fmt: skip
    report = memory.check_relationship_cycles()
    assert not report.acyclic and len(report.cycles) == 1
    assert set(report.cycles[0]) == {a, b} and report.cycles[0][0] == report.cycles[0][-1]
    with pytest.raises(RelationshipCycleError) as err:
        memory.relationship_topological_order()
    assert err.value.field == "types"


def test_deleting_an_episode_removes_its_links(memory: SelfLearningMemory, run: Run) -> None:
    a, b, c = _episodes(memory, run, 3)
    memory.add_relationship(a, b, "depends_on")
    memory.add_relationship(b, c, "blocks")
    memory.add_relationship(a, c, "related_to")
    assert memory.delete_episode(b)
    assert [r.target_id for r in memory.list_relationships(a)] == [c]
    assert len(memory.relationship_graph().edges) == 1


def test_links_persist_across_restart(durable: Callable[[], SelfLearningMemory], run: Run) -> None:
    with durable() as m:
        a, b, c = _episodes(m, run, 3)
        m.add_relationship(a, b, "parent_child", "epic and story", 9)
        m.add_relationship(c, b, "depends_on")
    with durable() as m:
        assert [r.reason for r in m.list_relationships(a)] == ["epic and story"]
        assert {r.episode_id for r in m.find_related_episodes(a, 2)} == {b, c}
        with pytest.raises(RelationshipCycleError):
            m.add_relationship(b, c, "depends_on")
        assert m.relationship_topological_order().order == [b, c]
