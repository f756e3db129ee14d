"""Reusable tests and test data for plugins: run the contracts against your real engine.

``StorageContract`` and ``CacheContract`` are pytest base classes (they need pytest and
hypothesis, so they are imported lazily); ``factories`` builds episodes, steps,
patterns and vectors for any package's tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memory_core.testing.cache_contract import CacheContract
    from memory_core.testing.storage_contract import StorageContract

__all__ = ["CacheContract", "StorageContract"]


def __getattr__(name: str) -> Any:
    # Lazy so that importing memory_core.testing.factories never pulls in pytest.
    if name == "StorageContract":
        from memory_core.testing.storage_contract import StorageContract

        return StorageContract
    if name == "CacheContract":
        from memory_core.testing.cache_contract import CacheContract

        return CacheContract
    raise AttributeError(name)
