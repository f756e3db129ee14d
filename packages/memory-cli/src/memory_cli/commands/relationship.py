"""``memory relationship``: typed, directed links between episodes, and their graph."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated, Any

import typer
from memory_core import InvalidInputError, RelationshipType
from memory_core.errors import RelationshipCycleError

from memory_cli._errors import EXIT_FAILED, EXIT_USAGE, CliError
from memory_cli._examples import examples
from memory_cli._output import OutputFormat, emit
from memory_cli._parsing import parse_uuid
from memory_cli._state import get_state
from memory_cli._views import or_empty
from memory_cli._views_workflow import cycle_view, graph_view, related_table, relationships_table

app = typer.Typer(
    help="Link episodes (depends_on, blocks, follows, parent_child, related_to, duplicates, "
    "references) and explore the links: related episodes, graph, cycles, order.",
    epilog=examples(
        "memory relationship add $B $A --type depends_on --reason 'needs A'",
        "memory relationship graph $A --format dot | dot -Tsvg > deps.svg",
        "memory relationship order",
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


class Direction(StrEnum):
    OUT = "out"
    IN = "in"
    BOTH = "both"


class GraphFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"
    DOT = "dot"


EpisodeId = Annotated[str, typer.Argument(help="Episode id (UUID).", show_default=False)]
TypeFilter = Annotated[
    list[RelationshipType] | None,
    typer.Option("--type", "-t", help="Only links of this type (repeatable)."),
]
DirectionOpt = Annotated[
    Direction, typer.Option("--direction", "-d", help="out: it is the source; in: the target.")
]
_ARGS = {"source_id": "FROM", "target_id": "TO", "type": "--type", "reason": "--reason"}

DepthOpt = Annotated[int, typer.Option("--depth", min=1, max=10, help="Links to follow (1-10).")]


@app.command(
    epilog=examples(
        "memory relationship add $B $A --type depends_on",
        "memory relationship add $A $B -t blocks --priority 9 --reason 'API first'",
    )
)
def add(
    ctx: typer.Context,
    from_id: Annotated[str, typer.Argument(metavar="FROM", help="Source episode id.")],
    to_id: Annotated[str, typer.Argument(metavar="TO", help="Target episode id.")],
    rel_type: Annotated[
        RelationshipType, typer.Option("--type", "-t", help="Read as: FROM <type> TO.")
    ],
    reason: Annotated[str, typer.Option(help="Why the link exists.")] = "",
    priority: Annotated[int, typer.Option(min=1, max=10, help="1-10, higher first.")] = 5,
) -> None:
    """Link FROM <type> TO; refused if a dependency link would close a cycle."""
    state = get_state(ctx)
    try:
        rel = state.memory.add_relationship(
            parse_uuid(from_id, "FROM"), parse_uuid(to_id, "TO"), rel_type, reason, priority
        )
    except InvalidInputError as exc:
        if exc.field in _ARGS:  # name the CLI's argument, not memory-core's parameter
            raise InvalidInputError(str(exc), field=_ARGS[exc.field], limit=exc.limit) from exc
        raise
    emit(state.format, rel, lambda: f"linked {rel.id}")


@app.command(epilog=examples("memory relationship remove $B:depends_on:$A"))
def remove(
    ctx: typer.Context,
    relationship_id: Annotated[
        str, typer.Argument(help="Link id FROM:TYPE:TO, as printed by add and list.")
    ],
) -> None:
    """Remove a link by its id."""
    state = get_state(ctx)
    if not state.memory.remove_relationship(relationship_id):
        raise CliError(f"relationship not found: {relationship_id}", exit_code=EXIT_FAILED)
    emit(
        state.format, {"id": relationship_id, "removed": True}, lambda: f"removed {relationship_id}"
    )


@app.command(
    "list",
    epilog=examples("memory relationship list $A", "memory relationship list $A -d in -t blocks"),
)
def list_(
    ctx: typer.Context,
    episode_id: EpisodeId,
    direction: DirectionOpt = Direction.BOTH,
    rel_type: TypeFilter = None,
) -> None:
    """An episode's links, by priority."""
    state = get_state(ctx)
    rels = state.memory.list_relationships(
        parse_uuid(episode_id, "EPISODE_ID"),
        direction.value,
        rel_type,
    )
    emit(state.format, rels, lambda: or_empty(relationships_table(rels), "links"))


@app.command(
    epilog=examples(
        "memory relationship related $A --depth 3",
        "memory relationship related $A -t depends_on -d out",
    )
)
def related(
    ctx: typer.Context,
    episode_id: EpisodeId,
    depth: DepthOpt = 2,
    direction: DirectionOpt = Direction.BOTH,
    rel_type: TypeFilter = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 100,
) -> None:
    """Episodes reachable by following links, nearest first."""
    state = get_state(ctx)
    found = state.memory.find_related_episodes(
        parse_uuid(episode_id, "EPISODE_ID"),
        depth,
        direction.value,
        rel_type,
        limit,
    )
    emit(state.format, found, lambda: or_empty(related_table(found), "related episodes"))


@app.command(
    epilog=examples(
        "memory relationship graph $A --depth 2",
        "memory relationship graph --format dot | dot -Tpng > graph.png",
        "memory relationship graph $A --format json -t depends_on",
    )
)
def graph(
    ctx: typer.Context,
    episode_id: Annotated[
        str | None, typer.Argument(help="Root episode; omit for every link.", show_default=False)
    ] = None,
    depth: DepthOpt = 3,
    rel_type: TypeFilter = None,
    graph_format: Annotated[
        GraphFormat | None,
        typer.Option("--format", help="dot (Graphviz), json, yaml or table; default: -f."),
    ] = None,
) -> None:
    """The links around an episode (or all of them), as a table, JSON or Graphviz DOT."""
    state = get_state(ctx)
    root = parse_uuid(episode_id, "EPISODE_ID") if episode_id is not None else None
    g = state.memory.relationship_graph(root, depth, rel_type)
    chosen = graph_format.value if graph_format is not None else state.format.value
    if chosen == GraphFormat.DOT:
        sys.stdout.write(g.to_dot())
        sys.stdout.flush()
        return
    emit(OutputFormat(chosen), g, lambda: graph_view(g))


@app.command(
    epilog=examples(
        "memory relationship check",
        "memory relationship check --from $A --to $B --type depends_on",
    )
)
def check(
    ctx: typer.Context,
    from_id: Annotated[
        str | None, typer.Option("--from", help="Proposed link: source episode.")
    ] = None,
    to_id: Annotated[
        str | None, typer.Option("--to", help="Proposed link: target episode.")
    ] = None,
    rel_type: Annotated[
        RelationshipType | None, typer.Option("--type", "-t", help="Proposed link: type.")
    ] = None,
) -> None:
    """Check the dependency links for cycles (exit 1 if any), or whether a proposed link
    would close one (exit 1 if it would)."""
    state = get_state(ctx)
    proposal = {"--from": from_id, "--to": to_id, "--type": rel_type}
    given = [k for k, v in proposal.items() if v is not None]
    if given and len(given) < 3:
        missing = ", ".join(k for k in proposal if k not in given)
        raise CliError(f"a proposed link also needs {missing}", exit_code=EXIT_USAGE)
    report = state.memory.check_relationship_cycles()
    data: dict[str, Any] = report.model_dump(mode="json")
    would: bool | None = None
    cycle: list[str] | None = None
    if from_id is not None and to_id is not None and rel_type is not None:
        found = state.memory.relationship_would_cycle(
            parse_uuid(from_id, "--from"),
            parse_uuid(to_id, "--to"),
            rel_type,
            tenant=None,
        )
        would = found is not None
        cycle = [str(x) for x in found] if found else None
        data.update(would_create_cycle=would, cycle_path=cycle)
    emit(state.format, data, lambda: cycle_view(report, cycle, would))
    if not report.acyclic or would:
        raise typer.Exit(EXIT_FAILED)


@app.command(
    epilog=examples(
        "memory relationship order",
        "memory relationship order -t parent_child",
        "memory relationship order --episode $A --episode $B",
    )
)
def order(
    ctx: typer.Context,
    rel_type: Annotated[
        list[RelationshipType] | None,
        typer.Option(
            "--type", "-t", help="Link types to respect (default depends_on, follows, blocks)."
        ),
    ] = None,
    episode: Annotated[
        list[str] | None, typer.Option("--episode", "-e", help="Only these episodes (repeatable).")
    ] = None,
) -> None:
    """Linked episodes in dependency order: each after what it must wait for."""
    state = get_state(ctx)
    try:
        topo = state.memory.relationship_topological_order(rel_type)
    except RelationshipCycleError as exc:
        raise CliError(str(exc), exit_code=EXIT_FAILED) from exc
    if episode:
        wanted = list(dict.fromkeys(parse_uuid(e, "--episode") for e in episode))
        ranked, keep = set(topo.order), set(wanted)
        ids = [i for i in topo.order if i in keep] + [i for i in wanted if i not in ranked]
        topo = topo.model_copy(update={"order": ids})
    emit(
        state.format,
        topo,
        lambda: (
            "\n".join(f"{n}. {eid}" for n, eid in enumerate(topo.order, start=1))
            or "no linked episodes"
        ),
    )
