"""``memory keys``: master keys for encryption at rest (AES-256-GCM).

Sensitive episodes are sealed with per-episode data keys, wrapped by a master key from
``MEMORY_ENCRYPTION_KEYS`` (``id:base64,id:base64``; the last listed, or
``MEMORY_ENCRYPTION_ACTIVE_KEY``, wraps new data keys). To rotate: generate a key, append
it to the keyring, restart the servers, run ``memory keys rotate`` (re-wraps every data
key with the active key, in batches), then drop the old key once ``memory keys usage``
no longer lists it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer
from memory_core import InvalidInputError
from memory_core.security import (
    Keyring,
    RotationProgress,
    acting_as,
    generate_key,
    key_usage,
    rewrap_database_key,
    rotate_keys,
)

from memory_cli._examples import examples
from memory_cli._output import emit
from memory_cli._principal import principal
from memory_cli._progress import tracked
from memory_cli._state import get_state

app = typer.Typer(
    help="Encryption master keys: generate one, re-wrap data keys (rotate), see usage.",
    epilog=examples(
        "memory keys generate --id k2",
        "memory keys rotate",
        "memory keys usage",
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")


@app.command(
    epilog=examples(
        "memory keys generate --id k2",
        'export MEMORY_ENCRYPTION_KEYS="$OLD,$(memory keys generate --id k2)"',
    )
)
def generate(
    ctx: typer.Context,
    key_id: Annotated[
        str, typer.Option("--id", help="Key id: 1-32 letters, digits, '.', '_' or '-'.")
    ] = "k1",
) -> None:
    """Print a new random 256-bit key as ``id:base64`` for MEMORY_ENCRYPTION_KEYS."""
    if not _KEY_ID.fullmatch(key_id):
        raise InvalidInputError(
            "--id must be 1-32 letters, digits, '.', '_' or '-'", field="--id", limit=32
        )
    state = get_state(ctx)
    entry = f"{key_id}:{generate_key()}"
    emit(state.format, {"id": key_id, "entry": entry}, lambda: entry)


@app.command(
    epilog=examples(
        "memory keys rotate",
        "memory keys rotate --batch 500",
        "memory --tenant team-a keys rotate --tenant-only",
    )
)
def rotate(
    ctx: typer.Context,
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=10_000, help="Data keys per transaction.")
    ] = 100,
    tenant_only: Annotated[
        bool, typer.Option("--tenant-only", help="Only the current tenant (global --tenant).")
    ] = False,
) -> None:
    """Re-wrap every data key not wrapped by the active master key (progress on stderr)."""
    state = get_state(ctx)
    if state.config.encrypt_database:
        _rotate_database_key(state)
        return
    memory = state.memory
    tenants = [state.config.tenant] if tenant_only else None
    with tracked("re-wrapping data keys", None) as tracker, acting_as(principal()):

        def progress(p: RotationProgress) -> None:
            tracker.progress.update(
                tracker.task,
                description=f"re-wrapping {p.tenant}",
                completed=p.seen,
                total=p.total,
            )

        done = rotate_keys(memory, tenants=tenants, batch=batch, progress=progress)
    usage = key_usage(memory, tenants=tenants)
    data: dict[str, Any] = {"rewrapped": done, "usage": usage}
    emit(
        state.format,
        data,
        lambda: (
            f"re-wrapped {done} data key(s); data keys per master key: "
            + (", ".join(f"{k}={v}" for k, v in sorted(usage.items())) or "none")
        ),
    )


def _rotate_database_key(state: Any) -> None:
    """An encrypted database has one data key, in ``<database>.key``: re-wrap that file."""
    path = state.config.database_path()
    if path is None or "{tenant}" in str(path):
        raise InvalidInputError(
            "keys rotate re-wraps the key of one local database file (file:path URL)",
            field="DATABASE_URL",
        )
    with acting_as(principal()):
        changed = rewrap_database_key(path, state.config)
    kid = Keyring.from_config(state.config)
    active = kid.active_id if kid is not None else None
    data: dict[str, Any] = {"database": path.name, "rewrapped": changed, "master_key": active}
    emit(
        state.format,
        data,
        lambda: (
            f"{path.name}: key {'re-wrapped with' if changed else 'already wrapped by'} "
            f"master key {active}"
        ),
    )


@app.command(epilog=examples("memory keys usage", "memory -f json keys usage"))
def usage(ctx: typer.Context) -> None:
    """How many data keys each master key wraps (a key at 0 may leave the keyring)."""
    state = get_state(ctx)
    counts = key_usage(state.memory)
    emit(
        state.format,
        counts,
        lambda: (
            "\n".join(f"{k}  {v}" for k, v in sorted(counts.items())) or "no encrypted data keys"
        ),
    )
