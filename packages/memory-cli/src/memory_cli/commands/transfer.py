"""``memory export`` and ``memory import``: the whole memory as versioned JSON Lines
(``SelfLearningMemory.export_memory``), idempotent by id."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import IO, Annotated

import typer
from memory_core import MemoryConfig

from memory_cli._examples import examples
from memory_cli._output import emit, stderr_console
from memory_cli._progress import tracked
from memory_cli._state import get_state

EXPORT_EPILOG = examples(
    "memory export -o memory.jsonl",
    "memory --tenant team-a export | gzip > team-a.jsonl.gz",
)
IMPORT_EPILOG = examples(
    "memory import memory.jsonl",
    "gunzip -c team-a.jsonl.gz | memory import - --as-tenant team-b",
)


def export(
    ctx: typer.Context,
    output: Annotated[
        str, typer.Option("--output", "-o", help="File to write (default: - for stdout).")
    ] = "-",
) -> None:
    """Export the tenant's whole memory as JSON Lines: a header, then episodes (newest
    first), patterns with their observed and applied counts, heuristics, and records
    (tags, relationships, checkpoints and hand-off packs, recommendation sessions and
    feedback). The output is deterministic: the same store always exports to the same
    bytes. A file is written to a temporary name and renamed, never left half-written.
    """
    state = get_state(ctx)
    memory = state.memory
    total = memory.storage.stats(state.config.tenant).episodes
    count = 0
    with tracked("exporting", total) as tracker:

        def write(fh: IO[str]) -> None:
            nonlocal count
            for line in memory.export_memory():
                fh.write(line)
                if line.startswith('{"type":"episode"'):
                    count += 1
                    tracker.advance()

        if output == "-":
            write(sys.stdout)
            sys.stdout.flush()
        else:
            target = Path(output)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                    write(fh)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            finally:
                Path(tmp).unlink(missing_ok=True)
    if output != "-":
        emit(state.format, {"path": output, "episodes": count})
    elif state.verbose:
        stderr_console().print(f"exported {count} episodes", highlight=False)


def import_(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="JSON Lines file from 'memory export', or -.")],
    as_tenant: Annotated[
        str | None,
        typer.Option("--as-tenant", help="Store into this tenant instead of each record's own."),
    ] = None,
) -> None:
    """Import a 'memory export' file. Existing ids are left as they are (safe to re-run);
    patterns, heuristics and records then stand exactly as exported.

    The whole input is validated first: a bad line stops the import before anything is
    written, with the line number and field in the message. Episodes are written in
    batches (one transaction each); one the memory refuses is listed under "problems"
    with its position and field, and the command exits 1.
    """
    state = get_state(ctx)
    if as_tenant is not None:  # the config model owns the tenant rule; exit 2 naming it
        MemoryConfig.load(state.config_file, **{**state.overrides, "tenant": as_tenant})
    with _open_source(source) as fh:
        counts, report = state.memory.import_memory(fh, as_tenant=as_tenant)
    result: dict[str, object] = {
        "episodes": report.processed,
        "imported": report.imported,
        "existing": report.duplicates,
        "patterns": counts["patterns"],
        "heuristics": counts["heuristics"],
        "records": counts["records"],
    }
    if report.problems:  # e.g. a sensitive episode without encryption at rest
        result["problems"] = [p.model_dump() for p in report.problems]
    emit(state.format, result)
    if report.problems:
        raise typer.Exit(1)


class _open_source:
    """A seekable text stream: the file itself, or stdin spooled to a temporary file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.fh: IO[str] | None = None

    def __enter__(self) -> IO[str]:
        if self.source == "-":
            spool = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")
            shutil.copyfileobj(sys.stdin, spool)
            spool.seek(0)
            self.fh = spool
        else:
            self.fh = open(self.source, encoding="utf-8", newline="")
        return self.fh

    def __exit__(self, *exc: object) -> None:
        if self.fh is not None:
            self.fh.close()
