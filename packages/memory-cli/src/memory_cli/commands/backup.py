"""``memory backup``: consistent online snapshots, and restoring one.

``create`` asks the storage backend for a snapshot (libSQL: an online backup taken inside
a read transaction, so writers may keep going). ``restore`` replaces the database file
with a snapshot and must run while **no other process has the database open** (stop the
MCP server and agents first): it copies the snapshot beside the target, swaps it in with
an atomic rename, removes the old ``-wal``/``-shm`` files (a stale write-ahead log must
never be replayed onto a different database), then opens the restored store (running
migrations) and clears the cache, whose entries describe the replaced data.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Annotated

import typer

from memory_cli._errors import EXIT_FAILED, EXIT_USAGE, CliError
from memory_cli._examples import examples
from memory_cli._operator import operator_method
from memory_cli._output import emit
from memory_cli._state import get_state

app = typer.Typer(
    help="Snapshot the database online, or restore a snapshot (with the service stopped).",
    epilog=examples("memory backup create snap.db", "memory backup restore snap.db --force"),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

SQLITE_HEADER = b"SQLite format 3\x00"


@app.command(
    epilog=examples(
        "memory backup create backups/memory-$(date +%F).db",
        "memory backup create snapshot.db --force",
    )
)
def create(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Where to write the snapshot file.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a consistent snapshot of the database while it stays in use."""
    state = get_state(ctx)
    if path.exists() and not force:
        raise CliError(f"{path} exists; pass --force to overwrite it", exit_code=EXIT_FAILED)
    backup = operator_method(state.memory.storage, "backup")
    if path.exists():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    backup(path)
    data = {"path": str(path), "size_bytes": path.stat().st_size}  # the file, whatever it returns
    emit(state.format, data)


@app.command(
    epilog=examples(
        "memory backup restore backups/memory-2025-01-31.db --force",
        "memory --database-url file:./restored.db backup restore snapshot.db",
    )
)
def restore(
    ctx: typer.Context,
    snapshot: Annotated[Path, typer.Argument(help="A snapshot made by 'memory backup create'.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the existing database (it is lost).")
    ] = False,
) -> None:
    """Replace the database with a snapshot. Stop every process using it first.

    Refuses to overwrite an existing database without --force. The cache is cleared.
    """
    state = get_state(ctx)
    target = state.config.database_path()
    if target is None:
        raise CliError(
            f"restore needs a file: database URL, not {state.config.url_scheme}:",
            exit_code=EXIT_USAGE,
        )
    if not snapshot.is_file():
        raise CliError(f"snapshot not found: {snapshot}", exit_code=EXIT_FAILED)
    with snapshot.open("rb") as fh:
        if fh.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise CliError(f"not a database snapshot: {snapshot}", exit_code=EXIT_FAILED)
    if target.exists() and not force:
        raise CliError(
            f"{target} exists; pass --force to replace it with {snapshot}", exit_code=EXIT_FAILED
        )
    if target.exists() and target.resolve() == snapshot.resolve():
        raise CliError("the snapshot is the database itself", exit_code=EXIT_USAGE)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.restore-{os.getpid()}")
    try:
        shutil.copyfile(snapshot, staging)
        with staging.open("rb+") as fh:
            os.fsync(fh.fileno())
        for suffix in ("-wal", "-shm", "-journal"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    memory = state.memory
    schema_version = memory.storage.schema_version
    memory.cache.clear()
    data = {
        "path": str(target),
        "snapshot": str(snapshot),
        "schema_version": schema_version,
        "episodes": memory.storage.stats(None).episodes,
        "cache_cleared": True,
    }
    emit(state.format, data)
