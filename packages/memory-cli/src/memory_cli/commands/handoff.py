"""``memory episode checkpoint|handoff|resume``: let a long task survive a context reset.

Registered on the ``memory episode`` group by ``register`` (they act on episodes), kept
here so the hand-off flow reads as one piece: checkpoint an in-progress episode, print
its hand-off pack (``-f json`` for another agent), resume from the checkpoint or pack.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from memory_core import InvalidInputError
from memory_core.workflow import HandoffPack

from memory_cli._errors import EXIT_USAGE, CliError
from memory_cli._examples import examples
from memory_cli._output import emit
from memory_cli._parsing import parse_uuid
from memory_cli._state import get_state
from memory_cli._views_workflow import checkpoint_view, handoff_view, resume_view

MAX_PACK_BYTES = 1_000_000

CheckpointId = Annotated[
    str | None, typer.Argument(help="Checkpoint id, as printed by checkpoint.", show_default=False)
]


def checkpoint(
    ctx: typer.Context,
    episode_id: Annotated[str, typer.Argument(help="Episode id (UUID).", show_default=False)],
    reason: Annotated[str, typer.Option(help="Why, e.g. 'context full'.")] = "",
    note: Annotated[str, typer.Option(help="State and open questions for the next agent.")] = "",
) -> None:
    """Snapshot an in-progress episode so another agent or session can take over."""
    state = get_state(ctx)
    cp = state.memory.checkpoint_episode(parse_uuid(episode_id, "EPISODE_ID"), reason, note)
    emit(state.format, cp, lambda: checkpoint_view(cp))


def handoff(
    ctx: typer.Context,
    checkpoint_id: Annotated[
        str, typer.Argument(help="Checkpoint id, as printed by checkpoint.", show_default=False)
    ],
) -> None:
    """Print the hand-off pack of a checkpoint: goal, done, failed, open questions, patterns."""
    state = get_state(ctx)
    pack = state.memory.get_handoff_pack(checkpoint_id)
    emit(state.format, pack, lambda: handoff_view(pack))


def _read_pack(source: str) -> str:
    if source == "-":
        text = sys.stdin.read(MAX_PACK_BYTES + 1)
    else:
        with Path(source).open(encoding="utf-8") as f:
            text = f.read(MAX_PACK_BYTES + 1)
    if len(text) > MAX_PACK_BYTES:
        raise InvalidInputError(
            f"--pack is larger than {MAX_PACK_BYTES} characters",
            field="--pack",
            limit=MAX_PACK_BYTES,
        )
    return text


def resume(
    ctx: typer.Context,
    checkpoint_id: CheckpointId = None,
    pack: Annotated[
        str | None,
        typer.Option("--pack", help="Resume from a pack (JSON from 'handoff -f json'): FILE or -."),
    ] = None,
) -> None:
    """Take over: continue the episode (log the next step as printed), or a linked new one."""
    state = get_state(ctx)
    if (checkpoint_id is None) == (pack is None):
        raise CliError("give a CHECKPOINT_ID or --pack FILE", exit_code=EXIT_USAGE)
    memory = state.memory
    source: HandoffPack | str
    if checkpoint_id is not None:
        source = memory.get_handoff_pack(checkpoint_id)
    else:
        assert pack is not None
        source = _read_pack(pack)
    try:
        result = memory.resume_from_handoff(source)
    except InvalidInputError as exc:
        if exc.field and exc.field.startswith("pack"):
            raise InvalidInputError(
                f"--pack{str(exc)[4:]}" if str(exc).startswith("pack") else str(exc),
                field="--pack" + exc.field[4:],
            ) from exc
        raise
    emit(state.format, result, lambda: resume_view(result))


def register(app: typer.Typer) -> None:
    """Add the hand-off commands to ``memory episode``."""
    app.command(
        epilog=examples(
            "memory episode checkpoint $ID --reason 'context full'",
            "memory episode checkpoint $ID --note 'Is the index still needed?'",
        )
    )(checkpoint)
    app.command(
        epilog=examples(
            "memory episode handoff $CHECKPOINT",
            "memory -f json episode handoff $CHECKPOINT > pack.json",
        )
    )(handoff)
    app.command(
        epilog=examples(
            "memory episode resume $CHECKPOINT",
            "memory -f json episode resume --pack pack.json",
        )
    )(resume)
