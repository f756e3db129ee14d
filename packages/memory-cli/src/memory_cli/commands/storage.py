"""``memory storage``: sizes, schema, integrity, vacuum, replica sync, re-embedding."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from memory_core.models import SCHEMA_VERSION

from memory_cli._errors import EXIT_FAILED
from memory_cli._examples import examples
from memory_cli._operator import integrity_ok, operator_method
from memory_cli._output import emit, key_value_table, to_data
from memory_cli._progress import tracked
from memory_cli._secrets import mask_url
from memory_cli._state import get_state

app = typer.Typer(
    help="Maintain the durable store: stats, migrations, integrity, vacuum, sync, re-embedding.",
    epilog=examples("memory storage stats", "memory storage integrity && memory storage vacuum"),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@app.command(epilog=examples("memory storage stats", "memory -f json storage stats --all-tenants"))
def stats(
    ctx: typer.Context,
    all_tenants: Annotated[
        bool, typer.Option("--all-tenants", help="Count every tenant, not only the current.")
    ] = False,
) -> None:
    """Counts and sizes of the store, the cache and the stored embedding models."""
    state = get_state(ctx)
    memory = state.memory
    storage = memory.storage
    cache_stats = memory.cache.stats()
    data: dict[str, Any] = {
        "tenant": None if all_tenants else state.config.tenant,
        "backend": getattr(storage, "name", type(storage).__name__),
        "storage": storage.stats(None if all_tenants else state.config.tenant),
        "cache": {**to_data(cache_stats), "hit_rate": cache_stats.hit_rate},
        "embedding_models": storage.embedding_models(),
    }
    emit(state.format, data)


@app.command(epilog=examples("memory storage migrate", "memory -f json storage migrate"))
def migrate(ctx: typer.Context) -> None:
    """Open the store, applying pending schema migrations, and print the schema version.

    Migrations run whenever a store is opened; this command makes that an explicit step
    (e.g. before starting servers after an upgrade).
    """
    state = get_state(ctx)
    storage = state.memory.storage
    data = {
        "database_url": mask_url(state.config.database_url),
        "backend": getattr(storage, "name", type(storage).__name__),
        "schema_version": storage.schema_version,
        "record_schema_version": SCHEMA_VERSION,
    }
    emit(state.format, data)


@app.command(epilog=examples("memory storage integrity"))
def integrity(ctx: typer.Context) -> None:
    """Run the database's integrity check (PRAGMA integrity_check); exit 1 on problems."""
    state = get_state(ctx)
    result = operator_method(state.memory.storage, "integrity_check")()
    ok, problems = integrity_ok(result)
    data = {"ok": ok, "problems": problems, "result": to_data(result)}
    emit(state.format, data, lambda: "ok" if ok else key_value_table({"problems": problems}))
    if not ok:
        raise typer.Exit(EXIT_FAILED)


@app.command(epilog=examples("memory storage vacuum"))
def vacuum(ctx: typer.Context) -> None:
    """Reclaim free pages and rebuild the search indexes' storage (VACUUM)."""
    state = get_state(ctx)
    storage = state.memory.storage
    vacuum_ = operator_method(storage, "vacuum")
    before = storage.stats().size_bytes
    result = vacuum_()
    after = storage.stats().size_bytes
    data = {"size_bytes_before": before, "size_bytes_after": after, "result": to_data(result)}
    emit(state.format, data, lambda: f"vacuumed: {before} -> {after} bytes")


@app.command(epilog=examples("memory storage sync"))
def sync(ctx: typer.Context) -> None:
    """Pull changes from the remote primary into an embedded replica (sync_url)."""
    state = get_state(ctx)
    result = to_data(operator_method(state.memory.storage, "sync")())
    data = result if isinstance(result, dict) else {"synced": True, "result": result}
    emit(state.format, data)


@app.command(
    epilog=examples(
        "EMBEDDING_MODEL=text-embedding-3-small memory storage reembed",
        "memory --tenant team-a storage reembed",
    )
)
def reembed(ctx: typer.Context) -> None:
    """Re-embed every completed episode of the tenant with the configured model.

    Run after changing EMBEDDING_MODEL or the provider: vectors of other models are
    dropped at the end, so retrieval never compares vectors of two models.
    """
    state = get_state(ctx)
    memory = state.memory
    total = memory.storage.stats(state.config.tenant).completed_episodes
    with tracked("re-embedding", total) as tracker:
        done = memory.reembed(progress=tracker)
    embedder = memory.embedder
    data = {"episodes": done, "model_id": embedder.model_id if embedder is not None else None}
    emit(state.format, data)
