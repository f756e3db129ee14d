"""Physical deletion of one episode: when ``delete_episode`` returns, its text is gone
from every byte the library wrote, not just hidden.

In order, under the memory's lock:

1. its contribution leaves its patterns (``retract_patterns``): a pattern only it
   supported is deleted (its key may carry the episode's words, e.g. a decision's
   condition), the others lose its support; descriptions never quote episodes
   (``extraction``);
2. storage deletes its rows, indexes, vectors, usage and records in one transaction
   (libSQL zeroes what it frees: ``secure_delete``);
3. the cache drops its entries, then the tenant's cache key is replaced
   (``CacheSealer.shred``): values still lying in freed cache pages can no longer be
   opened, whatever the cache backend does with freed space;
4. storage is scrubbed (``scrub()``, optional): libSQL merges the pattern index and
   checkpoints and truncates its write-ahead log, which still held the old pages.

No VACUUM: the cost is one WAL checkpoint (bounded by the auto-checkpoint size) and one
merge of the pattern index, paid by the delete that needs it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from uuid import UUID

from memory_core._protocols import Scrubber
from memory_core.security._erasure import ErasureReport, retract_patterns

if TYPE_CHECKING:
    from memory_core._context import MemoryContext
    from memory_core._memory import SelfLearningMemory

__all__ = ["delete_everywhere"]

log = logging.getLogger("memory_core")


def delete_everywhere(
    ctx: MemoryContext, memory: SelfLearningMemory, tenant: str, episode_id: UUID
) -> ErasureReport:
    """Delete the episode physically; ``episode_ids`` of the report is ``[episode_id]`` if
    it existed, else empty."""
    with ctx.lock:
        storage = ctx.backends.storage
        episode = storage.get_episode(tenant, episode_id)
        report = ErasureReport(tenant=tenant)
        if episode is not None:
            report = retract_patterns(memory, tenant, episode)
        existed = storage.delete_episode(tenant, episode_id)
        # Must not be swallowed: a stale cache would resurrect the episode.
        ctx.backends.cache.invalidate_episode(tenant, episode_id)
        ctx.events.episode_deleted(tenant, episode_id)
        if existed or episode is not None:
            report.episode_ids.append(episode_id)
            ctx.cache.sealer.shred(tenant)
            if isinstance(storage, Scrubber):
                storage.scrub()
    return report
