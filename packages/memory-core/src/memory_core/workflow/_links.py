"""Relationship links as stored: reading them, walking them, refusing a cycle.

Each link is a ``relationship`` record with ``episode_id`` = source and ``related_id`` =
target (``RecordStore``), so the links of one episode are one indexed query and
``delete_episode`` removes them with the episode. The walks read only what they reach.
"""

from __future__ import annotations

from collections import deque
from uuid import UUID

from memory_core._protocols import RecordStore
from memory_core.workflow._common import scan
from memory_core.workflow._errors import RelationshipCycleError
from memory_core.workflow._graph import group_of, path_between, precedence
from memory_core.workflow._models import Direction, Relationship, RelationshipType

__all__ = ["REL_KIND", "all_links", "links_of", "refuse_cycle", "side_ok", "walk"]

REL_KIND = "relationship"


def links_of(store: RecordStore, tenant: str, eid: UUID) -> list[Relationship]:
    return [
        Relationship.model_validate(d) for _, _, d in scan(store, tenant, REL_KIND, episode_id=eid)
    ]


def all_links(store: RecordStore, tenant: str) -> list[Relationship]:
    return [Relationship.model_validate(d) for _, _, d in scan(store, tenant, REL_KIND)]


def refuse_cycle(store: RecordStore, tenant: str, rel: Relationship) -> None:
    """Raise if ``rel`` would close a cycle in its acyclic group: is there already a
    path from its 'after' end back to its 'first' end? Explores only reachable nodes."""
    group = group_of(rel.type)
    if group is None:
        return
    first, after = precedence(rel)
    succ: dict[UUID, set[UUID]] = {}
    queue, seen = deque([after]), {after}
    while queue:
        node = queue.popleft()
        nxt = {
            b
            for r in links_of(store, tenant, node)
            if r.type in group
            for a, b in [precedence(r)]
            if a == node
        }
        succ[node] = nxt
        if node == first:
            break
        for n in nxt - seen:
            seen.add(n)
            queue.append(n)
    path = path_between(succ, after, first)
    if path is not None:
        cycle = [first, *path]
        raise RelationshipCycleError(
            f"{rel.source_id} {rel.type.value} {rel.target_id} would close a cycle: "
            + " → ".join(str(x) for x in cycle),
            cycle,
        )


def walk(
    store: RecordStore,
    tenant: str,
    start: UUID,
    max_depth: int,
    direction: Direction,
    wanted: set[RelationshipType],
) -> dict[UUID, tuple[int, list[UUID], Relationship]]:
    """Breadth-first: each reached episode with its depth, path and first link."""
    reached: dict[UUID, tuple[int, list[UUID], Relationship]] = {}
    frontier = [(start, [start])]
    for depth in range(1, max_depth + 1):
        nxt_frontier = []
        for node, path in frontier:
            links = sorted(links_of(store, tenant, node), key=lambda r: (-r.priority, r.id))
            for r in links:
                if r.type not in wanted or not side_ok(r, node, direction):
                    continue
                other = r.target_id if r.source_id == node else r.source_id
                if other == start or other in reached:
                    continue
                reached[other] = (depth, [*path, other], r)
                nxt_frontier.append((other, [*path, other]))
        frontier = nxt_frontier
        if not frontier:
            break
    return reached


def side_ok(rel: Relationship, eid: UUID, direction: Direction) -> bool:
    if direction == "out":
        return rel.source_id == eid
    if direction == "in":
        return rel.target_id == eid
    return True
