"""Argument checks shared by the embedding providers."""

from __future__ import annotations

from collections.abc import Sequence

from memory_core._errors import InvalidInputError


def check_texts(texts: Sequence[str]) -> None:
    """Reject a bare string (a ``Sequence[str]`` too, embedded char by char) and non-strings."""
    if isinstance(texts, str):
        raise InvalidInputError("texts must be a sequence of strings, not a string", field="texts")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidInputError(
                f"texts[{i}] must be a string, got {type(text).__name__}", field=f"texts[{i}]"
            )
