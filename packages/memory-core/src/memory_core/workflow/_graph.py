"""Pure graph algorithms over relationships: precedence, cycles, topological order, DOT.

Precedence reads each acyclic link as "must come first → comes after":
``A depends_on B`` and ``A follows B`` put B first, ``A blocks B`` puts A first, and
``A parent_child B`` puts the parent first. Hierarchy (parent_child) and precedence
(depends_on, follows, blocks) are checked for cycles separately: a parent may well wait
for its children, so mixing the two would refuse ordinary plans.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from uuid import UUID

from memory_core.workflow._models import (
    ACYCLIC_TYPES,
    DependencyGraph,
    Relationship,
    RelationshipType,
)

HIERARCHY = frozenset({RelationshipType.PARENT_CHILD})
PRECEDENCE = frozenset(
    {RelationshipType.DEPENDS_ON, RelationshipType.FOLLOWS, RelationshipType.BLOCKS}
)
GROUPS = (HIERARCHY, PRECEDENCE)
assert HIERARCHY | PRECEDENCE == ACYCLIC_TYPES

Edge = tuple[UUID, UUID]


def group_of(type_: RelationshipType) -> frozenset[RelationshipType] | None:
    """The acyclic group a type is checked in, or ``None`` for free types."""
    return next((g for g in GROUPS if type_ in g), None)


def precedence(rel: Relationship) -> Edge:
    """(first, after) for a link of an acyclic type."""
    if rel.type in (RelationshipType.DEPENDS_ON, RelationshipType.FOLLOWS):
        return rel.target_id, rel.source_id
    return rel.source_id, rel.target_id


def find_cycles(edges: Iterable[Edge]) -> list[list[UUID]]:
    """One cycle per strongly connected component that has one (Tarjan, iterative).

    Each cycle lists its nodes with the first repeated at the end.
    """
    succ: dict[UUID, list[UUID]] = defaultdict(list)
    nodes: set[UUID] = set()
    for a, b in edges:
        succ[a].append(b)
        nodes.update((a, b))
    for v in succ.values():
        v.sort()
    index: dict[UUID, int] = {}
    low: dict[UUID, int] = {}
    on_stack: set[UUID] = set()
    stack: list[UUID] = []
    components: list[list[UUID]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = succ.get(node, [])
            if i < len(children):
                work.append((node, i + 1))
                child = children[i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1 or node in succ.get(node, []):
                    components.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return [_cycle_in(set(c), succ) for c in components]


def _cycle_in(component: set[UUID], succ: dict[UUID, list[UUID]]) -> list[UUID]:
    """A shortest cycle through the smallest node of a strongly connected component."""
    start = min(component)
    prev: dict[UUID, UUID] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in succ.get(node, []):
            if nxt not in component:
                continue
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                return [*reversed(path), start]
            if nxt not in prev:
                prev[nxt] = node
                queue.append(nxt)
    return [start, start]


def path_between(succ: dict[UUID, set[UUID]], start: UUID, goal: UUID) -> list[UUID] | None:
    """A shortest path start → goal, or ``None``."""
    prev: dict[UUID, UUID] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [node]
            while path[-1] != start:
                path.append(prev[path[-1]])
            return list(reversed(path))
        for nxt in sorted(succ.get(node, ())):
            if nxt not in seen:
                seen.add(nxt)
                prev[nxt] = node
                queue.append(nxt)
    return None


def topo_sort(nodes: Iterable[UUID], edges: Iterable[Edge]) -> tuple[list[UUID], set[UUID]]:
    """Kahn's order (ties by id, so it is stable); returns (order, nodes left in cycles)."""
    succ: dict[UUID, set[UUID]] = defaultdict(set)
    indeg: dict[UUID, int] = dict.fromkeys(nodes, 0)
    for a, b in edges:
        indeg.setdefault(a, 0)
        indeg.setdefault(b, 0)
        if b not in succ[a]:
            succ[a].add(b)
            indeg[b] += 1
    ready = sorted(n for n, d in indeg.items() if d == 0)
    order: list[UUID] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        added = []
        for nxt in succ.get(node, ()):
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                added.append(nxt)
        if added:
            ready = sorted([*ready, *added])
    left = {n for n, d in indeg.items() if d > 0}
    return order, left


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", " ").replace("\n", "\\n") + '"'


def to_dot(graph: DependencyGraph) -> str:
    """Graphviz DOT: one node per episode (task and status), one edge per link.

    Acyclic types are solid, the others dashed; the root (if any) is bold.
    """
    lines = ["digraph episodes {", "  rankdir=LR;", "  node [shape=box];"]
    for n in graph.nodes:
        task = (
            n.task_description if len(n.task_description) <= 48 else n.task_description[:47] + "…"
        )
        status = n.outcome.value if n.outcome is not None else n.status.value
        label = _quote(task + "\n" + status)
        attrs = [f"label={label}"]
        if graph.root == n.id:
            attrs.append("style=bold")
        lines.append(f"  {_quote(str(n.id))} [{', '.join(attrs)}];")
    for e in graph.edges:
        style = "solid" if e.type in ACYCLIC_TYPES else "dashed"
        text = e.type.value if not e.reason else f"{e.type.value}: {e.reason[:40]}"
        lines.append(
            f"  {_quote(str(e.source_id))} -> {_quote(str(e.target_id))} "
            f"[label={_quote(text)}, style={style}, weight={e.priority}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"
