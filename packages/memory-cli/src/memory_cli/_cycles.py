"""Would a proposed link close a cycle? (``memory relationship check --from --to --type``.)

memory-core refuses such a link when it is added but has no public dry run, so this
reads the tenant's links of the proposal's acyclic group and searches a path with the
core's own precedence rules (``memory_core.workflow._graph``), writing nothing.
"""

from __future__ import annotations

from uuid import UUID

from memory_core import InvalidInputError, Relationship, RelationshipType, SelfLearningMemory
from memory_core.workflow._graph import group_of, path_between, precedence


def proposed_cycle(
    memory: SelfLearningMemory,
    source: UUID,
    target: UUID,
    type_: RelationshipType,
    *,
    tenant: str | None,
    target_field: str = "--to",
) -> list[UUID] | None:
    """The cycle ``source <type_> target`` would close (first id repeated), or ``None``."""
    if source == target:
        raise InvalidInputError("an episode cannot be linked to itself", field=target_field)
    # Both must exist in the tenant, as for a real add (EpisodeNotFoundError names the id).
    for eid in (source, target):
        memory.list_relationships(eid, "out", [type_], tenant=tenant)
    group = group_of(type_)
    if group is None:
        return None
    proposal = Relationship(
        id=Relationship.make_id(source, type_, target),
        source_id=source,
        target_id=target,
        type=type_,
    )
    graph = memory.relationship_graph(None, types=sorted(group), tenant=tenant)
    if any(e.id == proposal.id for e in graph.edges):
        return None  # already stored, so adding it again changes nothing
    succ: dict[UUID, set[UUID]] = {}
    for edge in graph.edges:
        first, after = precedence(edge)
        succ.setdefault(first, set()).add(after)
    first, after = precedence(proposal)
    path = path_between(succ, after, first)
    return None if path is None else [first, *path]
