"""The export format: JSON Lines, one record per line, ``{"type": "episode", ...}``.

An episode record is ``{"type": "episode"}`` followed by every field of
``memory_core.Episode`` in model order (``model_dump(mode="json")``), compact separators,
UTF-8, ``\\n`` line ends. Encoding is deterministic, so exporting the same store twice
gives the same bytes. Readers skip record types they do not know (forward compatible).
"""

from __future__ import annotations

import json
from typing import Any

from memory_core import Episode, InvalidInputError
from pydantic import ValidationError

EPISODE = "episode"


def encode_episode(episode: Episode) -> str:
    record: dict[str, Any] = {"type": EPISODE, **episode.model_dump(mode="json")}
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def decode_line(line: str, lineno: int) -> Episode | None:
    """The episode on a line; ``None`` for a blank line or an unknown record type."""
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise InvalidInputError(
            f"line {lineno}: invalid JSON: {exc}", field=f"line {lineno}"
        ) from None
    if not isinstance(record, dict) or "type" not in record:
        raise InvalidInputError(
            f'line {lineno}: expected an object with a "type" key', field=f"line {lineno}"
        )
    if record.pop("type") != EPISODE:
        return None
    try:
        return Episode.model_validate(record)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ()))
        raise InvalidInputError(
            f"line {lineno}: invalid episode: {loc}: {err.get('msg')}",
            field=f"line {lineno}.{loc}",
        ) from None
