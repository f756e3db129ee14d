"""How tools are listed: what ``tools/list`` costs an agent's context.

Every listed tool is read by the model before its first word, so the ``core`` profile
lists each tool as an agent needs it and nothing more (``lean``): its name, one or two
sentences on when to call it, and its arguments with their types, enum values, defaults
and short descriptions. Left out, because they repeat or never guide a call:

* titles: the tool's (its name says it) and pydantic's on every property and model;
* size limits (``maxLength``, ``maxItems``, ``minLength``...): the server still enforces
  every one of them, and a call over a limit gets a tool error naming the field and the
  limit, so a client that never pre-validates loses nothing;
* ``null`` alternatives and ``null`` defaults (an argument left out is the same), and
  ``$defs`` (inlined where used);
* arguments an agent seldom supplies (``LISTED_IN_FULL``: measurements, free-form
  metadata and parameters, an alias, the sub-goal lists of a partial success, two
  filters): still accepted, and listed in the ``full`` profile;
* the output schema: results are still structured (``structuredContent``, and the same
  JSON as text), which MCP allows without one; the ``full`` profile lists them for
  clients that validate results;
* annotation hints other than the two the token scopes are read from
  (``readOnlyHint: true``, ``destructiveHint: true``; a tool without either needs the
  ``write`` scope, see ``_guard``).

The ``full`` profile lists everything (output schemas and limits included) and only drops
pydantic's generated titles. Validation never reads these schemas: it uses the tools'
argument models, which stay as registered.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.types import Tool, ToolAnnotations

MIN_REPEAT_CHARS = 60
"""A schema repeated in a later tool (or field) is replaced by a reference to its first
use when it is at least this long: shorter ones cost less than the reference."""
LISTED_IN_FULL = frozenset(
    {
        "latency_ms",
        "tokens_used",
        "metadata",
        "parameters",
        "complexity",
        "error_details",
        "completed",
        "failed",
        "status",
        "min_support",
    }
)
LIMIT_KEYS = frozenset(
    {"minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"}
)
TRIVIAL_DEFAULTS: tuple[Any, ...] = (None, "", [], {}, False, 0, 0.0)


class MemoryServer(MCPServer):
    """``MCPServer`` whose ``tools/list`` is compacted for the tool profile (see above)."""

    def __init__(self, *args: Any, lean: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lean = lean
        self._listed: tuple[tuple[str, ...], list[Tool]] | None = None

    async def list_tools(self) -> list[Tool]:
        tools = await super().list_tools()
        names = tuple(t.name for t in tools)
        if self._listed is None or self._listed[0] != names:  # built once, after registration
            shown = [listed(t, lean=self.lean) for t in tools]
            self._listed = (names, once(shown) if self.lean else shown)
        return list(self._listed[1])


def listed(tool: Tool, *, lean: bool) -> Tool:
    """``tool`` as ``tools/list`` shows it in a lean (``core``) or full listing."""
    schema = compact_schema(tool.input_schema, lean=lean)
    if not lean:
        output = tool.output_schema
        if output is not None:
            output = compact_schema(output, lean=False)
        return tool.model_copy(update={"input_schema": schema, "output_schema": output})
    first = (tool.description or "").strip().split("\n\n", 1)[0]  # the when-to-call part
    description = " ".join(first.split())
    return tool.model_copy(
        update={
            "title": None,
            "description": description,
            "input_schema": schema,
            "output_schema": None,
            "annotations": lean_annotations(tool.annotations),
        }
    )


def once(tools: list[Tool]) -> list[Tool]:
    """Each argument schema written once: a later property (or nested property, array
    item) whose schema (but for its own description and default) equals an earlier one
    becomes ``"as in <tool>[.<path>]"``, e.g. the step shape of ``record_episode``."""
    first: dict[str, tuple[str, object]] = {}
    out: list[Tool] = []
    for tool in tools:
        schema = dict(tool.input_schema)
        props = schema.get("properties")
        if isinstance(props, dict):
            schema["properties"] = {
                name: _once(p, f"{tool.name}.{name}", first) for name, p in props.items()
            }
        out.append(tool.model_copy(update={"input_schema": schema}))
    return out


def _once(node: Any, path: str, first: dict[str, tuple[str, object]]) -> Any:
    if not isinstance(node, dict):
        return node
    own = {k: node[k] for k in ("description", "default") if k in node}
    shape = {k: v for k, v in node.items() if k not in own}
    key = json.dumps(shape, sort_keys=True, separators=(",", ":"))
    if key in first:
        where, said_there = first[key]
        mine = own.get("description")
        owner, _, name = where.rpartition(".")
        if name == path.rpartition(".")[2]:
            where = owner  # task_type: "as in record_episode"
        said = f"as in {where}" + (f"; {mine}" if mine and mine != said_there else "")
        ref = {**({"type": node["type"]} if "type" in node else {}), "description": said}
        if "default" in own:
            ref["default"] = own["default"]
        if len(json.dumps(ref)) + 20 < len(json.dumps(node)):
            return ref
    if len(key) >= MIN_REPEAT_CHARS:
        first.setdefault(key, (path, own.get("description")))
    out = dict(node)
    if isinstance(node.get("properties"), dict):
        out["properties"] = {
            n: _once(p, f"{path}.{n}", first) for n, p in node["properties"].items()
        }
    if isinstance(node.get("items"), dict):
        out["items"] = _once(node["items"], f"{path}[]", first)
    if isinstance(node.get("anyOf"), list):
        out["anyOf"] = [_once(o, path, first) for o in node["anyOf"]]
    return out


def lean_annotations(hints: ToolAnnotations | None) -> ToolAnnotations | None:
    """The hints the token scopes are read from and a client asks before a call:
    ``readOnlyHint`` (read tools) and ``destructiveHint`` (deleting tools); none for a
    tool that only adds to memory."""
    if hints is None:
        return None
    if hints.read_only_hint:  # the other hints are meaningless for a read-only tool
        return ToolAnnotations(read_only_hint=True)
    if hints.destructive_hint:
        return ToolAnnotations(destructive_hint=True)
    return None  # additive: a tool without hints needs the write scope (``_guard``)


def compact_schema(schema: dict[str, Any], *, lean: bool) -> dict[str, Any]:
    """The JSON schema without pydantic's titles; ``lean`` also inlines ``$defs`` and
    drops limits, ``null`` alternatives and trivial defaults."""
    defs: dict[str, Any] = schema.get("$defs", {})
    out: dict[str, Any] = _node(schema, defs, lean, ())
    if lean:
        out.pop("$defs", None)
    elif defs:
        out["$defs"] = {name: _node(d, defs, lean, ()) for name, d in defs.items()}
    return out


def _node(node: Any, defs: dict[str, Any], lean: bool, seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_node(n, defs, lean, seen) for n in node]
    if not isinstance(node, dict):
        return node
    if lean and "$ref" in node:
        name = str(node["$ref"]).rsplit("/", 1)[-1]
        if name in seen or name not in defs:
            return {}  # a recursive type: any value, validated by the server
        target = _node(defs[name], defs, lean, (*seen, name))
        target.pop("description", None)  # a model's docstring, said again where used
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**target, **_node(rest, defs, lean, seen)}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "$defs":
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {
                name: _node(p, defs, lean, seen)
                for name, p in value.items()
                if not (lean and name in LISTED_IN_FULL)
            }
            continue
        if lean:
            if key in LIMIT_KEYS:
                continue
            if key == "default" and _trivial(value):
                continue
            if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
                continue
            if key == "format" and value == "uuid":
                continue  # the name says it (episode_id); a bad id is refused by name
        value = _node(value, defs, lean, seen)
        if lean and key == "additionalProperties" and value in ({}, False):
            continue
        out[key] = value
    if lean:
        out = _without_null(out)
        if "enum" in out:
            out.pop("type", None)  # the values say it
    return out


def _trivial(value: Any) -> bool:
    """A default an omitted argument means anyway: null, "", [], {}, false, 0."""
    return any(value == d and type(value) is type(d) for d in TRIVIAL_DEFAULTS)


def _without_null(node: dict[str, Any]) -> dict[str, Any]:
    options = node.get("anyOf")
    if not isinstance(options, list):
        return node
    kept = [o for o in options if o != {"type": "null"}]
    if len(kept) == len(options):
        return node
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    if len(kept) == 1 and isinstance(kept[0], dict):
        return {**kept[0], **rest}
    return {**rest, "anyOf": kept}


__all__ = ["MemoryServer", "compact_schema", "listed"]
