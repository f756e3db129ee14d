"""Embedding providers and the choice among them.

``provider_from_config`` reads ``embedding_provider``:

* ``auto`` (default): ``openai`` when ``OPENAI_API_KEY`` is set, else ``transformer`` when
  its weights are installed (the server's default install has them), else ``local`` when
  its readers are (``selfmem-core[local]``), else ``none``; the choice is logged;
* ``transformer``: all-MiniLM-L6-v2 on onnxruntime, or numpy without it (offline, no
  torch; weights from ``selfmem-embeddings-minilm``, ``pip install
  'selfmem-core[transformer]'``). It bridges paraphrases the static model cannot; its
  cost (≈4 ms a text) stays off the write path: vectors are written by the background
  ``EmbeddingWorker`` after the episode is acknowledged;
* ``local``: the bundled static model (offline, numpy + ``tokenizers`` + ``safetensors``,
  ``pip install 'selfmem-core[local]'``; the light fallback, chosen by ``auto`` when the
  transformer's weights are not installed);
* ``openai``: any OpenAI-compatible ``/embeddings`` endpoint (``selfmem-core[openai]``:
  httpx);
* ``none``: no embeddings; retrieval is lexical + context only;
* any other name: a plugin registered under the ``memory_core.embeddings`` entry point.

An unknown name raises ``BackendNotFoundError`` listing what is installed. A missing local
model raises ``EmbeddingError``; there is no silent fallback to hash "embeddings".
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

from memory_core._plugins import load_embedding_factory
from memory_core.embeddings.openai import OpenAIEmbeddingProvider
from memory_core.embeddings.static import StaticEmbeddingProvider
from memory_core.embeddings.transformer import TransformerEmbeddingProvider

if TYPE_CHECKING:
    from memory_core._config import MemoryConfig
    from memory_core._protocols import EmbeddingProvider

__all__ = [
    "NoEmbeddings",
    "OpenAIEmbeddingProvider",
    "StaticEmbeddingProvider",
    "TransformerEmbeddingProvider",
    "provider_from_config",
    "resolve_provider_name",
]

logger = logging.getLogger("memory_core.embeddings")


class NoEmbeddings:
    """The ``none`` entry point: embeddings switched off, retrieval stays lexical."""

    name: ClassVar[str] = "none"

    @classmethod
    def from_config(cls, config: MemoryConfig) -> None:
        return None


def resolve_provider_name(config: MemoryConfig) -> str:
    """The entry-point name ``embedding_provider`` stands for (``auto`` resolved)."""
    name = config.embedding_provider.strip().lower()
    if name != "auto":
        return name
    key = config.openai_api_key
    if key is not None and key.get_secret_value():
        return "openai"
    if TransformerEmbeddingProvider.available():
        return "transformer"
    return "local" if StaticEmbeddingProvider.available() else "none"


def provider_from_config(config: MemoryConfig) -> EmbeddingProvider | None:
    """Build the configured provider (cheap: no model load, no request); ``None`` = lexical only."""
    name = resolve_provider_name(config)
    if config.embedding_provider.strip().lower() == "auto":
        reason = {
            "openai": "OPENAI_API_KEY is set",
            "transformer": "the all-MiniLM-L6-v2 weights are installed",
            "local": "the transformer's weights (selfmem-embeddings-minilm) are not "
            "installed; the light static model is used",
            "none": "no local model can be read (pip install 'selfmem-core[local]' or "
            "'[transformer]'); retrieval is lexical and context only",
        }[name]
        logger.info(
            "embedding provider auto-selected",
            extra={"fields": {"provider": name, "reason": reason}},
        )
    factory = load_embedding_factory(name)
    provider: EmbeddingProvider | None = factory.from_config(config)
    return provider
