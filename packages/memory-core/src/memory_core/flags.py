"""Named feature flags: switch a behaviour per deployment without a new release.

Set in config as a table or JSON object, e.g. ``MEMORY_FEATURE_FLAGS='{"mmr": false}'``
or ``[feature_flags]`` / ``mmr = false`` in ``memory-cli.toml``. Flags are read from the
config on every use (not copied at start), and ``SelfLearningMemory.health()`` reports the
effective values, so an operator can see which variant an instance serves.

Known flags (name: default, what it switches):

* ``mmr`` (on): diversify retrieved episodes with maximal marginal relevance; off gives
  the plain score order (more near-duplicates, slightly higher top-1 precision).

Unknown names are kept and reported as given (a typo is visible in ``health_check``), but
nothing reads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from memory_core._config import MemoryConfig

__all__ = ["KNOWN_FLAGS", "effective_flags", "enabled"]

KNOWN_FLAGS: Final[dict[str, bool]] = {"mmr": True}
"""Every flag the library reads, with its default."""


def effective_flags(config: MemoryConfig) -> dict[str, bool]:
    """Defaults overlaid with the configured values (unknown names included)."""
    return {**KNOWN_FLAGS, **config.feature_flags}


def enabled(config: MemoryConfig, name: str) -> bool:
    """Whether flag ``name`` is on; ``KeyError`` for a flag the library does not define."""
    return bool(config.feature_flags.get(name, KNOWN_FLAGS[name]))
