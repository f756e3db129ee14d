"""The reference pages of the docs site, generated from the code at build time.

``mkdocs.yml`` loads this file as a hook: ``on_files`` adds three pages that are never
written by hand, so they cannot drift — the configuration reference from ``MemoryConfig``'s
fields, the MCP tool reference from the schemas the server itself lists, and the CLI
reference from the real ``--help`` of every command (``packages/memory-cli/docs/cli-help.md``,
itself checked by the CLI's tests). ``tests/test_docs_site.py`` builds the site strictly.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CLI_HELP = ROOT / "packages" / "memory-cli" / "docs" / "cli-help.md"
MCP_README = ROOT / "packages" / "memory-mcp" / "README.md"
DEPLOY_README = ROOT / "deploy" / "README.md"
REPOSITORY = "https://github.com/selfmem/selfmem"
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def configuration_page() -> str:
    """Every ``MemoryConfig`` field: environment names, type, default, constraints."""
    from memory_core import MemoryConfig
    from pydantic import AliasChoices

    lines = [
        "# Configuration reference",
        "",
        "One model, `memory_core.MemoryConfig`, configures the library, the server and the",
        "CLI. Precedence: arguments > environment > `.env` > TOML file (`--config`, "
        "`$MEMORY_CONFIG`, `./memory-cli.toml`, the user config dir) > defaults. Every",
        "setting also reads `NAME_FILE` (a file holding the value, for secrets).",
        "",
        "Generated from the code (`scripts/docs_reference.py`).",
        "",
        "| setting | environment | type | default | constraints | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for name, field in MemoryConfig.model_fields.items():
        alias = field.validation_alias
        envs = (
            [c for c in alias.choices if isinstance(c, str)]
            if isinstance(alias, AliasChoices)
            else [f"MEMORY_{name.upper()}"]
        )
        annotation = field.annotation
        kind = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
        default = "required" if field.is_required() else repr(field.get_default())
        if "SecretStr" in kind:
            default = "None (secret)" if field.get_default() is None else "(secret)"
        constraints = ", ".join(
            f"{key} {getattr(meta, key)}"
            for meta in field.metadata
            for key in ("gt", "ge", "lt", "le", "min_length", "max_length")
            if getattr(meta, key, None) is not None
        )
        lines.append(
            f"| `{name}` | {', '.join(f'`{e.upper()}`' for e in envs)} | `{_cell(kind)}` "
            f"| `{_cell(default)}` | {constraints} | {_cell(field.description or '')} |"
        )
    return "\n".join(lines) + "\n"


def _schema_type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in prop:
        return " or ".join(_schema_type(p, defs) for p in prop["anyOf"])
    if prop.get("type") == "array":
        return f"array of {_schema_type(prop.get('items', {}), defs)}"
    if "enum" in prop:
        return " / ".join(json.dumps(v) for v in prop["enum"])
    return str(prop.get("type", "any"))


def _limits(prop: dict[str, Any]) -> str:
    keys = ("minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems")
    found = [f"{k} {prop[k]}" for k in keys if k in prop]
    for option in prop.get("anyOf", []):
        found += [f"{k} {option[k]}" for k in keys if k in option]
    return ", ".join(found)


def tools_page() -> str:
    """Every tool the server lists (full profile), with its arguments and hints."""
    from memory_core import MemoryConfig
    from memory_mcp._server import build_server

    core_server, _ = build_server(MemoryConfig(database_url="memory:", mcp_tool_profile="core"))
    full_server, _ = build_server(MemoryConfig(database_url="memory:", mcp_tool_profile="full"))
    core = {t.name for t in asyncio.run(core_server.list_tools())}
    tools = asyncio.run(full_server.list_tools())
    lines = [
        "# MCP tool reference",
        "",
        f"`memory-mcp` serves {len(core)} tools in its default `core` profile and "
        f"{len(tools)} with `--tools full` (`MEMORY_MCP_TOOL_PROFILE=full`). Every tool has",
        "typed arguments with size limits, a structured result and annotations; a bad",
        "argument gets a tool error naming the field and the limit. The `core` profile",
        "lists its tools compactly for an agent's context (no limits, titles or output",
        "schemas in `tools/list`, under 1,500 tokens; every limit is still enforced);",
        "below is the full listing.",
        "",
        "Generated from the schemas the server lists (`scripts/docs_reference.py`).",
        "",
    ]
    for tool in sorted(tools, key=lambda t: (t.name not in core, t.name)):
        hints = tool.annotations
        flags = []
        if hints is not None:
            if hints.read_only_hint:
                flags.append("read-only")
            if hints.destructive_hint:
                flags.append("destructive")
            if hints.idempotent_hint:
                flags.append("idempotent")
        profile = "core" if tool.name in core else "full only"
        lines += [f"## `{tool.name}`", "", f"*{profile}; {', '.join(flags) or 'writes'}*", ""]
        lines += [tool.description or "", ""]
        schema = tool.input_schema
        props: dict[str, Any] = schema.get("properties", {})
        if props:
            required = set(schema.get("required", []))
            defs = schema.get("$defs", {})
            lines += ["| argument | type | required | limits | meaning |", "|---|---|---|---|---|"]
            for arg, prop in props.items():
                lines.append(
                    f"| `{arg}` | {_cell(_schema_type(prop, defs))} | "
                    f"{'yes' if arg in required else ''} | {_cell(_limits(prop))} | "
                    f"{_cell(prop.get('description', ''))} |"
                )
            lines.append("")
    return "\n".join(lines) + "\n"


def cli_page() -> str:
    return _outside_links(CLI_HELP.read_text(encoding="utf-8"), CLI_HELP.parent)


def deployment_page() -> str:
    return _outside_links(DEPLOY_README.read_text(encoding="utf-8"), DEPLOY_README.parent)


def security_page() -> str:
    """The server README's security section, which stays its single source."""
    text = MCP_README.read_text(encoding="utf-8")
    section = re.search(r"\n## (Security[^\n]*)\n(.*?)(?=\n## )", text, re.S)
    assert section, "packages/memory-mcp/README.md lost its security section"
    body = f"# {section.group(1)}\n\n{section.group(2).strip()}\n"
    return _outside_links(body, MCP_README.parent)


def _outside_links(markdown: str, base: Path) -> str:
    """Relative links of a page whose source is ``base``: into ``docs/`` they stay
    relative (to the page's place in the site), elsewhere they point at the repository."""

    def fix(match: re.Match[str]) -> str:
        bang, label, target = match.groups()
        if re.match(r"^[a-z]+:|^#", target):
            return match.group(0)
        path, _, anchor = target.partition("#")
        resolved = (base / path).resolve()
        if resolved.is_relative_to(DOCS):
            return match.group(0)
        relative = os.path.relpath(resolved, ROOT)
        kind = "raw/main" if bang else "blob/main"
        url = f"{REPOSITORY}/{kind}/{relative}" + (f"#{anchor}" if anchor else "")
        return f"{bang}[{label}]({url})"

    return LINK.sub(fix, markdown)


PAGES = {
    "reference/configuration.md": configuration_page,
    "reference/mcp-tools.md": tools_page,
    "reference/cli.md": cli_page,
    "deployment.md": deployment_page,
    "security.md": security_page,
}


def on_files(files: Any, config: Any) -> Any:
    """mkdocs hook: add the generated pages to the site."""
    from mkdocs.structure.files import File

    for uri, render in PAGES.items():
        files.append(File.generated(config, uri, content=render()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Hand-written pages link to code and results outside ``docs/``: point those links at
    the repository so they work on the site as on GitHub."""
    source = page.file.abs_src_path
    if source is None:  # generated above, links already fixed
        return markdown
    return _outside_links(markdown, Path(source).parent)
