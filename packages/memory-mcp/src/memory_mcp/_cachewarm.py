"""Cache warming at start (issue 10): a new instance reads the most recently used
completed episodes and the patterns of its tenant into its local cache, in the warm-up
thread after the transport is up, so the MCP handshake never waits for it.

Bounded by count and time: ``MEMORY_MCP_WARM_EPISODES`` (default 200; 0 disables),
``MEMORY_MCP_WARM_PATTERNS`` (default 200) and ``MEMORY_MCP_WARM_SECONDS`` (default 5).
Reads go through the normal API, so what is cached is generation-stamped like any other
value and a concurrent delete elsewhere is still honoured. Embeddings are not cached
values: the embedding model itself is loaded by ``SelfLearningMemory.warm()``.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

from memory_core import MemoryCoreError, SelfLearningMemory

logger = logging.getLogger("memory_mcp")

DEFAULT_EPISODES = 200
DEFAULT_PATTERNS = 200
DEFAULT_SECONDS = 5.0


@dataclass
class WarmLimits:
    episodes: int = DEFAULT_EPISODES
    patterns: int = DEFAULT_PATTERNS
    seconds: float = DEFAULT_SECONDS

    @classmethod
    def from_env(cls) -> WarmLimits:
        def number(name: str, default: float) -> float:
            raw = os.environ.get(name, "")
            try:
                return max(0.0, float(raw)) if raw.strip() else default
            except ValueError:
                logger.warning("ignoring %s=%r: not a number", name, raw)
                return default

        return cls(
            episodes=int(number("MEMORY_MCP_WARM_EPISODES", DEFAULT_EPISODES)),
            patterns=int(number("MEMORY_MCP_WARM_PATTERNS", DEFAULT_PATTERNS)),
            seconds=number("MEMORY_MCP_WARM_SECONDS", DEFAULT_SECONDS),
        )


def warm_cache(memory: SelfLearningMemory, limits: WarmLimits) -> tuple[int, int]:
    """Read recent completed episodes, then patterns, until a limit is hit; (episodes,
    patterns) read. Never raises: warming is an optimisation."""
    deadline = time.monotonic() + limits.seconds
    episodes = patterns = 0
    try:
        cursor: str | None = None
        while episodes < limits.episodes and time.monotonic() < deadline:
            page = memory.list_episodes(
                {"status": "completed"}, min(100, limits.episodes - episodes), cursor
            )
            for summary in page.items:
                if time.monotonic() >= deadline:
                    break
                memory.get_episode(summary.id)  # fills the cache (completed episodes)
                episodes += 1
            cursor = page.next_cursor
            if not cursor:
                break
        if limits.patterns and time.monotonic() < deadline:
            for pattern in memory.list_patterns(None, min(limits.patterns, 1000)):
                if time.monotonic() >= deadline:
                    break
                memory.get_pattern(pattern.id)
                patterns += 1
    except MemoryCoreError as exc:
        logger.warning("cache warming stopped: %s", exc)
    logger.info("cache warmed: %d episodes, %d patterns", episodes, patterns)
    return episodes, patterns
