"""``memory config``: write, show, validate and locate the configuration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from memory_core import ConfigurationError, SelfLearningMemory
from memory_core.config import CONFIG_FILE_NAME, find_config_file, user_config_dir
from memory_core.plugins import STORAGE_GROUP, installed_plugins, load_plugin
from rich import box
from rich.table import Table

from memory_cli._config_sources import effective_settings
from memory_cli._config_template import render_template
from memory_cli._errors import EXIT_FAILED, CliError
from memory_cli._examples import examples
from memory_cli._output import emit, fmt_value
from memory_cli._state import get_state

app = typer.Typer(
    help="Write a commented config file, show effective settings and their sources, validate.",
    epilog=examples("memory config init", "memory config show", "memory config validate"),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@app.command(
    epilog=examples(
        "memory config init",
        "memory config init --user",
        "memory config init --path deploy/memory-cli.toml --force",
    )
)
def init(
    ctx: typer.Context,
    path: Annotated[Path | None, typer.Option(help="Where to write the file.")] = None,
    user: Annotated[
        bool, typer.Option("--user", help="Write it in the user config directory.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented memory-cli.toml listing every setting with its default."""
    state = get_state(ctx)
    target = path or (user_config_dir() if user else Path.cwd()) / CONFIG_FILE_NAME
    if target.exists() and not force:
        raise CliError(f"{target} exists; pass --force to overwrite it", exit_code=EXIT_FAILED)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_template(), encoding="utf-8")
    emit(state.format, {"path": str(target)}, lambda: f"wrote {target}")


@app.command(
    epilog=examples(
        "memory config show",
        "memory -f json config show | jq .settings.database_url",
    )
)
def show(ctx: typer.Context) -> None:
    """Show every effective setting and where it came from (argument, env, .env, file,
    default). Secrets are masked."""
    state = get_state(ctx)
    config = state.config
    config_file = find_config_file(state.config_file)
    rows = effective_settings(config, config_file=config_file, overrides=state.overrides)
    data = {
        "config_file": str(config_file) if config_file else None,
        "settings": {row.key: row.as_dict() for row in rows},
    }

    def table() -> Any:
        t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        t.add_column("setting", no_wrap=True, style="bold")
        t.add_column("value", overflow="fold", ratio=1)
        t.add_column("source", overflow="fold")
        for row in rows:
            origin = f" ({row.origin})" if row.origin and row.source != "default" else ""
            style = "dim" if row.source == "default" else ""
            t.add_row(
                row.key,
                fmt_value(row.value),
                f"[{style}]{row.source}{origin}[/]" if style else f"{row.source}{origin}",
            )
        return [f"config file: {data['config_file'] or '(none)'}", t]

    emit(state.format, data, table)


@app.command(epilog=examples("memory config validate", "memory --config prod.toml config validate"))
def validate(ctx: typer.Context) -> None:
    """Check the config and that its backends are installed (opens no database).

    Exit code 2, naming the setting, when something is wrong.
    """
    state = get_state(ctx)
    config = state.config
    # The library's own checks: plugin names resolve, the embedder's settings are complete.
    # Nothing is opened: from_config is lazy and building the embedder loads no model.
    memory = SelfLearningMemory.from_config(config)
    try:
        embedder = memory.embedder
    finally:
        memory.close()
    storage_name = config.storage_backend or _storage_for_scheme(config.url_scheme)
    config_file = find_config_file(state.config_file)
    data = {
        "valid": True,
        "config_file": str(config_file) if config_file else None,
        "storage_backend": storage_name,
        "cache_backend": config.cache_backend,
        "embedding_provider": config.embedding_provider,
        "embedding_model": embedder.model_id if embedder is not None else None,
    }
    emit(
        state.format,
        data,
        lambda: (
            f"ok: {data['config_file'] or 'defaults'} "
            f"(storage {storage_name}, cache {config.cache_backend}, "
            f"embeddings {config.embedding_provider})"
        ),
    )


def _storage_for_scheme(scheme: str) -> str:
    """The name of the installed storage plugin serving a URL scheme (for display)."""
    for name in installed_plugins(STORAGE_GROUP):
        try:
            if scheme in getattr(load_plugin(STORAGE_GROUP, name), "schemes", ()):
                return name
        except ConfigurationError:
            continue
    raise ConfigurationError(f"no storage backend serves {scheme}:", key="DATABASE_URL")


@app.command(
    epilog=examples(
        "memory config path", "$EDITOR $(memory -f json config path | jq -r .config_file)"
    )
)
def path(ctx: typer.Context) -> None:
    """Show which config file applies and where files are looked for, in order."""
    state = get_state(ctx)
    searched: list[dict[str, Any]] = []
    if state.config_file is not None:
        searched.append({"via": "--config", "path": str(state.config_file)})
    if os.environ.get("MEMORY_CONFIG"):
        searched.append({"via": "MEMORY_CONFIG", "path": os.environ["MEMORY_CONFIG"]})
    searched.append({"via": "working directory", "path": str(Path.cwd() / CONFIG_FILE_NAME)})
    searched.append(
        {"via": "user config directory", "path": str(user_config_dir() / CONFIG_FILE_NAME)}
    )
    for item in searched:
        item["exists"] = Path(item["path"]).is_file()
    try:
        active = find_config_file(state.config_file)
    except ConfigurationError:  # pragma: no cover - find_config_file does not validate
        active = None
    data = {
        "config_file": str(active) if active else None,
        "user_config_dir": str(user_config_dir()),
        "searched": searched,
    }

    def table() -> Any:
        t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        t.add_column("via", no_wrap=True)
        t.add_column("path", overflow="fold", ratio=1)
        t.add_column("exists", no_wrap=True)
        for item in searched:
            t.add_row(item["via"], item["path"], "yes" if item["exists"] else "no")
        return [f"config file: {data['config_file'] or '(none: defaults and environment)'}", t]

    emit(state.format, data, table)
