"""What every tool, resource and route shares: the memory, its config, metrics, warm-up.

The memory is reached only through ``AsyncSelfLearningMemory`` (one worker thread), so the
event loop never blocks on storage, cache or embeddings.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from memory_core import AsyncSelfLearningMemory, MemoryConfig
from memory_core.config import Limits

from memory_mcp._metrics import ServerMetrics
from memory_mcp._outputs import WarmupStatus
from memory_mcp._subscriptions import SessionRegistry

if TYPE_CHECKING:
    from memory_mcp._fast_lane import FastLane

logger = logging.getLogger("memory_mcp")

TenantResolver = Callable[[], str | None]
"""Returns the tenant of the current request, or None for the configured tenant.

On stdio the tenant comes from config; an authenticated HTTP transport plugs in a
resolver that reads it from the verified bearer token (never from a tool argument)."""


def config_tenant() -> str | None:
    return None


class Warmup:
    """Opens storage and cache and loads the embedding model off the event loop.

    Started after the transport is up, so ``initialize`` is answered before any of it;
    a tool call that arrives first simply opens what it needs on first use.
    """

    def __init__(self, memory: AsyncSelfLearningMemory) -> None:
        self._memory = memory
        self._state = "pending"
        self._seconds: float | None = None
        self._error: str | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="memory-warmup", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._state = "running"
        started = time.perf_counter()
        try:
            self._memory.sync.warm()
        except Exception as exc:  # reported by health_check; tools raise on first use
            self._error = f"{type(exc).__name__}: {exc}"
            self._state = "failed"
            logger.error("warm-up failed: %s", self._error)
        else:
            self._state = "done"
            logger.info("memory warmed up in %.2fs", time.perf_counter() - started)
        finally:
            self._seconds = round(time.perf_counter() - started, 3)
        if self._state == "done":  # deploy: recent episodes/patterns into the local cache
            from memory_mcp._cachewarm import WarmLimits, warm_cache

            warm_cache(self._memory.sync, WarmLimits.from_env())
            # The SDK, the indexes and the model loaded by now live as long as the server:
            # full collections no longer walk them (tens of ms each, at 10K episodes).
            gc.freeze()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def status(self) -> WarmupStatus:
        """The warm-up state as clients see it: the error without paths or URLs (the
        full text is in the log)."""
        from memory_mcp._errors import without_locations

        error = without_locations(self._error) if self._error is not None else None
        return WarmupStatus(state=self._state, seconds=self._seconds, error=error)


@dataclass
class Runtime:
    memory: AsyncSelfLearningMemory
    config: MemoryConfig
    metrics: ServerMetrics
    version: str
    tenant_resolver: TenantResolver = config_tenant
    multi_tenant: bool = False
    """security: tenants share this server (authenticated HTTP); results show each caller
    only its own tenant's numbers (see _tenancy)."""
    sessions: SessionRegistry = field(default_factory=SessionRegistry)
    worker_tools: dict[str, Callable[..., Any]] = field(default_factory=dict)
    """Tools whose body runs whole on the memory worker (``_worker_tool``), by name."""
    lane: FastLane | None = None
    """stdio's fast lane for those tools (``_fast_lane``); None over HTTP or when disabled."""
    warmup: Warmup = field(init=False)

    def __post_init__(self) -> None:
        self.warmup = Warmup(self.memory)

    @property
    def limits(self) -> Limits:
        return self.config.limits

    def tenant(self) -> str | None:
        return self.tenant_resolver()
