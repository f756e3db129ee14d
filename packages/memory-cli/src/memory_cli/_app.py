"""The root ``memory`` command: global options and one sub-app per noun."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from memory_core import configure_logging

from memory_cli._errors import MemoryGroup
from memory_cli._examples import examples
from memory_cli._output import OutputFormat
from memory_cli._state import CliState
from memory_cli._version import __version__
from memory_cli.commands import (
    audit,
    backup,
    completion,
    config,
    episode,
    erase,
    feedback,
    health,
    hooks,
    keys,
    monitor,
    pattern,
    playbook,
    plugins,
    query,
    relationship,
    retention,
    storage,
    tag,
    token,
    transfer,
    ui,
)

app = typer.Typer(
    name="memory",
    cls=MemoryGroup,
    help="Operate a self-learning agent memory: episodes, patterns, storage, config, health.",
    epilog=examples(
        "memory episode list --domain web",
        "memory --format json query 'add a health endpoint'",
        "memory --database-url file:./team.db storage stats",
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"memory {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="TOML config file (default: $MEMORY_CONFIG, ./memory-cli.toml, then the user"
            " config dir).",
            dir_okay=False,
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Database URL, e.g. file:./memory.db, libsql://host, memory: (overrides config).",
            show_envvar=False,
        ),
    ] = None,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Tenant to act on (overrides config).")
    ] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            "-f",
            help="Output format: table for people, json (stable) or yaml for scripts.",
            case_sensitive=False,
        ),
    ] = OutputFormat.TABLE,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More logging (-vv for debug).")
    ] = 0,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Operate a self-learning agent memory: episodes, patterns, storage, config, health."""
    overrides: dict[str, Any] = {}
    if database_url is not None:
        overrides["database_url"] = database_url
    if tenant is not None:
        overrides["tenant"] = tenant
    ctx.obj = CliState(
        config_file=config_file, overrides=overrides, format=output_format, verbose=verbose
    )
    _setup_logging(verbose)


def _setup_logging(verbose: int) -> None:
    """Warnings only by default (stdout carries data); -v info, -vv debug, on stderr."""
    level = "WARNING" if verbose == 0 else "INFO" if verbose == 1 else "DEBUG"
    configure_logging(level, "console", stream=sys.stderr)


app.add_typer(episode.app, name="episode")
app.command("query", epilog=query.EPILOG)(query.query)
app.add_typer(pattern.app, name="pattern")
app.add_typer(tag.app, name="tag")
app.add_typer(relationship.app, name="relationship")
app.add_typer(playbook.app, name="playbook")
app.add_typer(feedback.app, name="feedback")
app.add_typer(storage.app, name="storage")
app.add_typer(backup.app, name="backup")
app.command("export", epilog=transfer.EXPORT_EPILOG)(transfer.export)
app.command("import", epilog=transfer.IMPORT_EPILOG)(transfer.import_)
app.add_typer(config.app, name="config")
app.command("health", epilog=health.HEALTH_EPILOG)(health.health)
app.command("metrics", epilog=health.METRICS_EPILOG)(health.metrics)
app.command("monitor", epilog=monitor.EPILOG)(monitor.monitor)
app.command("plugins", epilog=plugins.EPILOG)(plugins.plugins)
app.command("completion", epilog=completion.EPILOG)(completion.completion)
# security (issue 9): tokens for the HTTP server, audit log, retention, erasure, keys
app.add_typer(token.app, name="token")
app.add_typer(audit.app, name="audit")
app.add_typer(retention.app, name="retention")
app.add_typer(erase.app, name="erase")
app.add_typer(keys.app, name="keys")
# web dashboard (issue 18)
app.command("ui", epilog=ui.EPILOG)(ui.ui)
# agent hooks (issue 17): automatic capture and recall
app.add_typer(hooks.app, name="hooks")
app.command("hook", epilog=hooks.HOOK_EPILOG)(hooks.hook)


def main() -> None:
    """The ``memory`` console script."""
    if completion.COMPLETE_VAR in os.environ:  # a shell asking for completions
        completion.enable()
    app(prog_name="memory")
