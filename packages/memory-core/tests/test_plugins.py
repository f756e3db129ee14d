"""Finding backends through entry points (``memory_core._plugins``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from memory_core import ConfigurationError, MemoryConfig
from memory_core._plugins import (
    CACHE_GROUP,
    EMBEDDINGS_GROUP,
    STORAGE_GROUP,
    installed,
    load_plugin,
    storage_factory_for_url,
)
from memory_core.cache import NullCache
from memory_core.errors import BackendNotFoundError
from memory_core.protocols import StorageBackend
from memory_core.storage import InMemoryStorage


def test_builtin_plugins_are_registered() -> None:
    assert "memory" in installed(STORAGE_GROUP)
    assert "none" in installed(CACHE_GROUP)
    assert "none" in installed(EMBEDDINGS_GROUP)


def test_load_by_name() -> None:
    assert load_plugin(STORAGE_GROUP, "memory") is InMemoryStorage
    assert load_plugin(CACHE_GROUP, "none") is NullCache


def test_unknown_name_lists_what_is_installed() -> None:
    with pytest.raises(BackendNotFoundError) as info:
        load_plugin(STORAGE_GROUP, "no-such-backend")
    err = info.value
    assert isinstance(err, ConfigurationError)
    assert err.key == STORAGE_GROUP and err.name == "no-such-backend"
    assert "memory" in err.installed
    assert "no-such-backend" in str(err) and "memory" in str(err)


def test_storage_chosen_by_url_scheme() -> None:
    name, factory = storage_factory_for_url("memory:")
    assert (name, factory) == ("memory", InMemoryStorage)
    backend = factory.from_url("memory:", MemoryConfig())
    assert isinstance(backend, StorageBackend)
    assert backend.health()["ok"] is True
    assert storage_factory_for_url("MEMORY://x")[1] is InMemoryStorage


def test_storage_chosen_by_name_wins_over_scheme() -> None:
    assert storage_factory_for_url("file:./x.db", name="memory") == ("memory", InMemoryStorage)


def test_unknown_url_scheme_names_the_setting() -> None:
    with pytest.raises(ConfigurationError) as info:
        storage_factory_for_url("gopher://somewhere")
    assert info.value.key == "DATABASE_URL"
    assert "gopher" in str(info.value) and "memory" in str(info.value)


def test_in_memory_rejects_other_schemes() -> None:
    with pytest.raises(ConfigurationError) as info:
        InMemoryStorage.from_url("file:./x.db", MemoryConfig())
    assert info.value.key == "DATABASE_URL"


@pytest.fixture
def fake_distribution(tmp_path: Path) -> Iterator[Path]:
    """A real installed distribution (a .dist-info on sys.path) with two storage entry
    points: one that loads, one whose module does not exist."""
    dist = tmp_path / "memory_fake_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: memory-fake-plugin\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text(
        "[memory_core.storage]\n"
        "fake-good = memory_fake_plugin:FakeStorage\n"
        "fake-broken = memory_fake_plugin_missing:Nothing\n"
        "fake-wrong = memory_fake_plugin:NOT_A_FACTORY\n"
    )
    (tmp_path / "memory_fake_plugin.py").write_text(
        "from memory_core.storage import InMemoryStorage\n\n"
        "class FakeStorage(InMemoryStorage):\n"
        "    schemes = ('fake',)\n\n"
        "NOT_A_FACTORY = 42\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("memory_fake_plugin", None)


def test_third_party_plugin_found_by_scheme(fake_distribution: Path) -> None:
    assert {"fake-good", "fake-broken"} <= set(installed(STORAGE_GROUP))
    name, factory = storage_factory_for_url("fake:anything", name="fake-good")
    assert name == "fake-good" and factory.schemes == ("fake",)


def test_broken_plugin_is_a_configuration_error_not_a_missing_one(
    fake_distribution: Path,
) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_plugin(STORAGE_GROUP, "fake-broken")
    assert not isinstance(info.value, BackendNotFoundError)
    assert "fake-broken" in str(info.value)
    assert isinstance(info.value.__cause__, ImportError)


def test_url_lookup_skips_a_broken_plugin(fake_distribution: Path) -> None:
    assert storage_factory_for_url("memory:")[1] is InMemoryStorage
    name, factory = storage_factory_for_url("fake:anything")
    assert name == "fake-good" and factory.schemes == ("fake",)
    with pytest.raises(ConfigurationError) as info:
        storage_factory_for_url("gopher://x")
    assert "fake-broken" in str(info.value)


def test_plugin_pointing_at_the_wrong_object_is_refused_by_name(
    fake_distribution: Path,
) -> None:
    with pytest.raises(ConfigurationError) as info:
        storage_factory_for_url("fake:anything", name="fake-wrong")
    message = str(info.value)
    assert "fake-wrong" in message and "StorageFactory" in message
    assert "from_url" in message and "schemes" in message


def test_installed_metadata_is_read_once_per_sys_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Opening a store asks for several groups; each full metadata read parses every
    installed dist-info, so it happens once until ``sys.path`` changes."""
    import memory_core._plugins as plugins

    reads: list[int] = []
    real = plugins.entry_points

    def counting() -> object:
        reads.append(1)
        return real()

    monkeypatch.setattr(plugins, "entry_points", counting)
    monkeypatch.setattr(plugins, "_read", None)
    for group in (STORAGE_GROUP, CACHE_GROUP, EMBEDDINGS_GROUP, STORAGE_GROUP):
        installed(group)
    assert len(reads) == 1
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "memory" in installed(STORAGE_GROUP)
    assert len(reads) == 2
