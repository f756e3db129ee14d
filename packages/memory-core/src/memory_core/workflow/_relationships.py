"""Typed, directed links between episodes.

Each link is a ``relationship`` record with ``episode_id`` = source and ``related_id`` =
target, so ``delete_episode`` removes an episode's links in the same transaction, and
the links of one episode are one indexed query. Adding a link of an acyclic type is
refused when it would close a cycle (see ``_graph`` for how types are grouped); the
check and the write run under the memory's lock, so one process cannot race itself.
Two processes adding crossing links at the same instant could still both succeed;
``check_relationship_cycles`` finds such cycles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from memory_core._errors import EpisodeNotFoundError, InvalidInputError
from memory_core._models import EpisodeSummary
from memory_core._validation import check_limit, check_text
from memory_core.workflow._common import as_uuid, check_range, records
from memory_core.workflow._errors import RelationshipCycleError, RelationshipNotFoundError
from memory_core.workflow._graph import (
    GROUPS,
    PRECEDENCE,
    find_cycles,
    group_of,
    precedence,
    topo_sort,
)
from memory_core.workflow._links import REL_KIND, all_links, links_of, refuse_cycle, side_ok, walk
from memory_core.workflow._models import (
    CycleReport,
    DependencyGraph,
    Direction,
    GraphNode,
    RelatedEpisode,
    Relationship,
    RelationshipType,
    TopologicalOrder,
)

if TYPE_CHECKING:
    from memory_core.workflow._context import WorkflowContext

MAX_DEPTH = 10
_MAX_ID = 200


class Relationships:
    """Links between episodes, their graph and orders (``SelfLearningMemory`` delegates)."""

    def __init__(self, c: WorkflowContext) -> None:
        self._c = c

    def add_relationship(
        self,
        source_id: UUID | str,
        target_id: UUID | str,
        type: RelationshipType | str,
        reason: str,
        priority: int,
        tenant: str | None,
    ) -> Relationship:
        with self._c.metrics.timed("add_relationship"):
            src = as_uuid(source_id, "source_id")
            dst = as_uuid(target_id, "target_id")
            rtype = _rel_type(type)
            check_text(reason, "reason", self._c.limits.max_action_chars)
            check_range(priority, "priority", 1, 10)
            if src == dst:
                raise InvalidInputError("an episode cannot be linked to itself", field="target_id")
            t = self._c.tenant(tenant)
            store = records(self._c.storage)
            rel = Relationship(
                id=Relationship.make_id(src, rtype, dst),
                source_id=src,
                target_id=dst,
                type=rtype,
                reason=reason,
                priority=priority,
            )
            with self._c.lock:
                found = {s.id for s in self._c.storage.get_summaries(t, [src, dst])}
                for eid in (src, dst):
                    if eid not in found:
                        raise EpisodeNotFoundError(eid)
                old = store.get_record(t, REL_KIND, rel.id)
                if old is not None:
                    rel = rel.model_copy(
                        update={"created_at": Relationship.model_validate(old).created_at}
                    )
                else:
                    refuse_cycle(store, t, rel)
                store.put_record(
                    t,
                    REL_KIND,
                    rel.id,
                    rel.model_dump(mode="json"),
                    episode_id=src,
                    related_id=dst,
                )
            return rel

    def relationship_would_cycle(
        self,
        source_id: UUID | str,
        target_id: UUID | str,
        type: RelationshipType | str,
        tenant: str | None,
    ) -> list[UUID] | None:
        src = as_uuid(source_id, "source_id")
        dst = as_uuid(target_id, "target_id")
        rtype = _rel_type(type)
        if src == dst:
            raise InvalidInputError("an episode cannot be linked to itself", field="target_id")
        t = self._c.tenant(tenant)
        store = records(self._c.storage)
        rel = Relationship(
            id=Relationship.make_id(src, rtype, dst), source_id=src, target_id=dst, type=rtype
        )
        with self._c.lock:
            found = {s.id for s in self._c.storage.get_summaries(t, [src, dst])}
            for eid in (src, dst):
                if eid not in found:
                    raise EpisodeNotFoundError(eid)
            if store.get_record(t, REL_KIND, rel.id) is not None:
                return None  # already stored: adding it again changes nothing
            try:
                refuse_cycle(store, t, rel)
            except RelationshipCycleError as exc:
                return list(exc.cycle)
        return None

    def get_relationship(self, relationship_id: str, tenant: str | None) -> Relationship:
        rid = _rel_id(relationship_id)
        t = self._c.tenant(tenant)
        with self._c.lock:
            data = records(self._c.storage).get_record(t, REL_KIND, rid)
        if data is None:
            raise RelationshipNotFoundError(rid)
        return Relationship.model_validate(data)

    def remove_relationship(self, relationship_id: str, tenant: str | None) -> bool:
        with self._c.metrics.timed("remove_relationship"):
            rid = _rel_id(relationship_id)
            t = self._c.tenant(tenant)
            with self._c.lock:
                return records(self._c.storage).delete_record(t, REL_KIND, rid)

    def list_relationships(
        self,
        episode_id: UUID | str,
        direction: Direction,
        types: Sequence[RelationshipType | str] | None,
        tenant: str | None,
    ) -> list[Relationship]:
        eid = as_uuid(episode_id, "episode_id")
        _direction(direction)
        wanted = _types(types)
        t = self._c.tenant(tenant)
        with self._c.lock:
            _require(self._c, t, [eid])
            links = links_of(records(self._c.storage), t, eid)
        out = [r for r in links if side_ok(r, eid, direction) and r.type in wanted]
        out.sort(key=lambda r: (-r.priority, r.created_at))
        return out

    def find_related_episodes(
        self,
        episode_id: UUID | str,
        max_depth: int,
        direction: Direction,
        types: Sequence[RelationshipType | str] | None,
        limit: int,
        tenant: str | None,
    ) -> list[RelatedEpisode]:
        with self._c.metrics.timed("find_related_episodes"):
            start = as_uuid(episode_id, "episode_id")
            check_range(max_depth, "max_depth", 1, MAX_DEPTH)
            _direction(direction)
            check_limit(limit, self._c.limits)
            wanted = _types(types)
            t = self._c.tenant(tenant)
            with self._c.lock:
                _require(self._c, t, [start])
                reached = walk(records(self._c.storage), t, start, max_depth, direction, wanted)
                order = list(reached)[:limit]
                summaries = {s.id: s for s in self._c.storage.get_summaries(t, order)}
            out = []
            for eid in order:
                s = summaries.get(eid)
                if s is None:
                    continue
                depth, path, via = reached[eid]
                out.append(
                    RelatedEpisode(
                        episode_id=eid,
                        task_description=s.task_description,
                        status=s.status,
                        outcome=s.outcome,
                        depth=depth,
                        path=path,
                        via=via,
                    )
                )
            return out

    def relationship_graph(
        self,
        episode_id: UUID | str | None,
        max_depth: int,
        types: Sequence[RelationshipType | str] | None,
        tenant: str | None,
    ) -> DependencyGraph:
        with self._c.metrics.timed("relationship_graph"):
            check_range(max_depth, "max_depth", 1, MAX_DEPTH)
            wanted = _types(types)
            t = self._c.tenant(tenant)
            store = records(self._c.storage)
            root = as_uuid(episode_id, "episode_id") if episode_id is not None else None
            with self._c.lock:
                if root is not None:
                    _require(self._c, t, [root])
                    reached = walk(store, t, root, max_depth, "both", wanted)
                    ids = {root, *reached}
                    edges = {
                        r.id: r
                        for eid in ids
                        for r in links_of(store, t, eid)
                        if r.type in wanted and r.source_id in ids and r.target_id in ids
                    }
                else:
                    edges = {r.id: r for r in all_links(store, t) if r.type in wanted}
                    ids = {x for r in edges.values() for x in (r.source_id, r.target_id)}
                summaries = _summaries(self._c, t, ids)
            return DependencyGraph(
                root=root,
                nodes=[_node(summaries[i]) for i in sorted(summaries)],
                edges=sorted(edges.values(), key=lambda r: (str(r.source_id), r.id)),
            )

    def relationship_graph_dot(
        self,
        episode_id: UUID | str | None,
        max_depth: int,
        types: Sequence[RelationshipType | str] | None,
        tenant: str | None,
    ) -> str:
        return self.relationship_graph(episode_id, max_depth, types, tenant).to_dot()

    def check_relationship_cycles(self, tenant: str | None) -> CycleReport:
        t = self._c.tenant(tenant)
        with self._c.lock:
            links = all_links(records(self._c.storage), t)
        cycles: list[list[UUID]] = []
        for group in GROUPS:
            cycles.extend(find_cycles(precedence(r) for r in links if r.type in group))
        checked = sorted((x for g in GROUPS for x in g), key=lambda x: x.value)
        return CycleReport(acyclic=not cycles, cycles=cycles, checked_types=checked)

    def relationship_topological_order(
        self, types: Sequence[RelationshipType | str] | None, tenant: str | None
    ) -> TopologicalOrder:
        chosen = _types(types) if types is not None else set(PRECEDENCE)
        for x in chosen:
            if group_of(x) is None:
                raise InvalidInputError(
                    f"types: {x.value} has no order; use parent_child, depends_on, follows "
                    "or blocks",
                    field="types",
                )
        t = self._c.tenant(tenant)
        with self._c.lock:
            links = [r for r in all_links(records(self._c.storage), t) if r.type in chosen]
        edges = [precedence(r) for r in links]
        nodes = {x for e in edges for x in e}
        order, left = topo_sort(nodes, edges)
        if left:
            cycle = find_cycles(e for e in edges if e[0] in left and e[1] in left)[0]
            raise RelationshipCycleError(
                "the links form a cycle: " + " → ".join(str(x) for x in cycle),
                cycle,
                field="types",
            )
        return TopologicalOrder(order=order, types=sorted(chosen, key=lambda x: x.value))


def _rel_type(value: RelationshipType | str) -> RelationshipType:
    try:
        return RelationshipType(value)
    except ValueError:
        allowed = ", ".join(x.value for x in RelationshipType)
        raise InvalidInputError(
            f"type must be one of {allowed}; got {str(value)[:64]!r}", field="type"
        ) from None


def _types(values: Sequence[RelationshipType | str] | None) -> set[RelationshipType]:
    if values is None:
        return set(RelationshipType)
    if isinstance(values, str):
        values = [values]
    out = set()
    for v in values:
        try:
            out.add(RelationshipType(v))
        except ValueError:
            allowed = ", ".join(x.value for x in RelationshipType)
            raise InvalidInputError(
                f"types: {str(v)[:64]!r} is not one of {allowed}", field="types"
            ) from None
    return out


def _direction(value: str) -> None:
    if value not in ("out", "in", "both"):
        raise InvalidInputError(
            f"direction must be 'out', 'in' or 'both'; got {value!r}", field="direction"
        )


def _rel_id(value: str) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_ID:
        raise InvalidInputError(
            f"relationship_id must be 1-{_MAX_ID} characters",
            field="relationship_id",
            limit=_MAX_ID,
        )
    return value


def _require(memory: WorkflowContext, tenant: str, ids: list[UUID]) -> None:
    found = {s.id for s in memory.storage.get_summaries(tenant, ids)}
    for eid in ids:
        if eid not in found:
            raise EpisodeNotFoundError(eid)


def _summaries(
    memory: WorkflowContext, tenant: str, ids: Iterable[UUID]
) -> dict[UUID, EpisodeSummary]:
    wanted = sorted(ids)
    out: dict[UUID, EpisodeSummary] = {}
    for i in range(0, len(wanted), 500):
        for s in memory.storage.get_summaries(tenant, wanted[i : i + 500]):
            out[s.id] = s
    return out


def _node(s: EpisodeSummary) -> GraphNode:
    return GraphNode(
        id=s.id, task_description=s.task_description, status=s.status, outcome=s.outcome
    )
