"""Reusable tests and test data for plugins: run the contracts against your real engine.

``StorageContract`` and ``CacheContract`` are pytest base classes (they need pytest and
hypothesis: ``pip install 'selfmem-core[testing]'``, so they are imported lazily);
``factories`` builds episodes, steps, patterns and vectors for any package's tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memory_core.testing.cache_contract import CacheContract
    from memory_core.testing.storage_contract import StorageContract

__all__ = ["CacheContract", "StorageContract"]


def __getattr__(name: str) -> Any:
    # Lazy so that importing memory_core.testing.factories never pulls in pytest.
    if name not in __all__:
        raise AttributeError(name)
    try:
        if name == "StorageContract":
            from memory_core.testing.storage_contract import StorageContract

            return StorageContract
        from memory_core.testing.cache_contract import CacheContract

        return CacheContract
    except ModuleNotFoundError as exc:
        if exc.name not in ("pytest", "hypothesis", "_pytest"):
            raise
        raise ModuleNotFoundError(
            f"memory_core.testing.{name} needs {exc.name}: pip install 'selfmem-core[testing]'",
            name=exc.name,
        ) from exc
