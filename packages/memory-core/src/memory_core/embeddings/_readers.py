"""The readers of a local model's files: ``tokenizers`` and ``safetensors``.

Both local models (the static ``local`` one and the ``transformer``) read their
``tokenizer.json`` and ``model.safetensors`` with them. They are optional dependencies
(``selfmem-core[local]``, ``[transformer]``; the server installs them), so that a
storage plugin installs without them (``tokenizers`` alone pulls ``huggingface-hub``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from memory_core._errors import EmbeddingError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["model_readers", "readers_available"]


def readers_available() -> bool:
    """Whether both readers are installed (``auto`` picks a local model only then)."""
    return all(importlib.util.find_spec(name) is not None for name in ("tokenizers", "safetensors"))


def model_readers(extra: str) -> tuple[type[Tokenizer], Callable[[str], dict[str, Any]]]:
    """``(Tokenizer, safetensors.numpy.load_file)``, or an ``EmbeddingError`` naming the
    extra to install."""
    try:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer
    except ModuleNotFoundError as exc:
        raise EmbeddingError(
            f"the {extra} embedding model needs {exc.name}: pip install 'selfmem-core[{extra}]'"
        ) from None
    return Tokenizer, load_file
