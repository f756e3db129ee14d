"""Choosing a provider from config through the ``memory_core.embeddings`` entry points."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import pytest
from memory_core import MemoryConfig
from memory_core._plugins import EMBEDDINGS_GROUP, load_plugin
from memory_core.embeddings import (
    NoEmbeddings,
    OpenAIEmbeddingProvider,
    StaticEmbeddingProvider,
    TransformerEmbeddingProvider,
    provider_from_config,
)
from memory_core.errors import BackendNotFoundError


def test_entry_points_resolve_to_the_classes() -> None:
    names = {ep.name for ep in entry_points(group=EMBEDDINGS_GROUP)}
    assert {"local", "openai", "none"} <= names
    assert load_plugin(EMBEDDINGS_GROUP, "local") is StaticEmbeddingProvider
    assert load_plugin(EMBEDDINGS_GROUP, "openai") is OpenAIEmbeddingProvider
    assert load_plugin(EMBEDDINGS_GROUP, "none") is NoEmbeddings


def test_auto_without_key_is_the_installed_transformer(caplog: pytest.LogCaptureFixture) -> None:
    """The workspace installs selfmem-embeddings-minilm (as the server's install does)."""
    assert TransformerEmbeddingProvider.available()
    with caplog.at_level(logging.INFO, "memory_core.embeddings"):
        provider = provider_from_config(MemoryConfig())
    assert isinstance(provider, TransformerEmbeddingProvider)
    assert provider.model_id == "transformer:all-minilm-l6-v2+int8"
    (record,) = [r for r in caplog.records if r.getMessage() == "embedding provider auto-selected"]
    assert record.fields == {  # type: ignore[attr-defined]
        "provider": "transformer",
        "reason": "the all-MiniLM-L6-v2 weights are installed",
    }


def test_auto_without_the_weights_is_the_static_model(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the weights package (no entry point in the group), the light fallback."""
    monkeypatch.setattr("memory_core.embeddings.transformer.entry_points_in", lambda group: [])
    assert not TransformerEmbeddingProvider.available()
    with caplog.at_level(logging.INFO, "memory_core.embeddings"):
        provider = provider_from_config(MemoryConfig())
    assert isinstance(provider, StaticEmbeddingProvider)
    assert provider.model_id == "local:minilm-m2v-256"
    (record,) = [r for r in caplog.records if r.getMessage() == "embedding provider auto-selected"]
    assert record.fields["provider"] == "local"  # type: ignore[attr-defined]
    assert "selfmem-embeddings-minilm" in record.fields["reason"]  # type: ignore[attr-defined]


def test_the_server_distribution_gets_the_transformer() -> None:
    """`uv run --no-dev memory-mcp` (selfmem-mcp's own dependencies) embeds with it."""
    from importlib.metadata import requires

    needs = {
        r.split(";")[0].split("~")[0].split(">")[0].strip() for r in requires("selfmem-mcp") or []
    }
    assert {"selfmem-embeddings-minilm", "onnxruntime"} <= needs
    assert "torch" not in needs


def test_auto_with_key_is_openai() -> None:
    provider = provider_from_config(MemoryConfig(openai_api_key="sk-x"))
    assert isinstance(provider, OpenAIEmbeddingProvider)
    assert provider.model_id == "openai:text-embedding-3-small"


def test_auto_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("EMBEDDING_MODEL", "text-embedding-3-large")
    provider = provider_from_config(MemoryConfig())
    assert provider is not None and provider.model_id == "openai:text-embedding-3-large"
    assert provider.dimension == 3072


def test_empty_key_counts_as_unset() -> None:
    assert isinstance(
        provider_from_config(MemoryConfig(openai_api_key="")), TransformerEmbeddingProvider
    )


def test_explicit_local_even_with_key() -> None:
    config = MemoryConfig(embedding_provider="local", openai_api_key="sk-x")
    assert isinstance(provider_from_config(config), StaticEmbeddingProvider)


def test_none_means_lexical_only() -> None:
    assert provider_from_config(MemoryConfig(embedding_provider="none")) is None


def test_unknown_name_lists_installed() -> None:
    with pytest.raises(BackendNotFoundError) as info:
        provider_from_config(MemoryConfig(embedding_provider="hashing"))
    assert info.value.name == "hashing"
    assert {"local", "none", "openai"} <= set(info.value.installed)
    assert "local" in str(info.value)
