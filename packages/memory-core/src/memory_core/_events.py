"""Lifecycle events: what happened to an episode, for the features that learn from it.

The loop announces an episode's completion or deletion and the patterns shown for it;
listeners (the retrieval feedback credit, the workflow's recommendation sessions) react.
So the core never calls into a feature by name, and a feature never reaches into the core.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal
from uuid import UUID

from memory_core._models import Episode

ShownSource = Literal["patterns", "playbook"]


class LifecycleListener:
    """No-op hooks; a listener overrides the ones it needs. Hooks run under the memory's
    lock, in registration order, and their errors propagate to the caller."""

    def episode_completed(self, tenant: str, episode: Episode) -> None:
        """After the episode is stored completed, before the call returns."""

    def failed_applications(self, tenant: str, episode: Episode) -> list[list[str]]:
        """While completing, before extraction: tool sequences shown for the episode that
        its steps followed and that failed there (``credit``), so that extraction counts
        them as failures *for this episode* (their failed twins), not only globally."""
        return []

    def episode_deleted(self, tenant: str, episode_id: UUID) -> None:
        """After the episode is erased from storage and cache."""

    def patterns_shown(
        self,
        tenant: str,
        episode_id: UUID,
        pattern_ids: Sequence[UUID],
        source: ShownSource,
        task_description: str,
    ) -> None:
        """Patterns were returned to an agent working on ``episode_id``."""


class LifecycleEvents(LifecycleListener):
    """Fans each event out to the registered listeners, in order."""

    def __init__(self) -> None:
        self._listeners: list[LifecycleListener] = []

    def subscribe(self, listener: LifecycleListener) -> None:
        self._listeners.append(listener)

    def episode_completed(self, tenant: str, episode: Episode) -> None:
        for listener in self._listeners:
            listener.episode_completed(tenant, episode)

    def episode_deleted(self, tenant: str, episode_id: UUID) -> None:
        for listener in self._listeners:
            listener.episode_deleted(tenant, episode_id)

    def failed_applications(self, tenant: str, episode: Episode) -> list[list[str]]:
        out: list[list[str]] = []
        for listener in self._listeners:
            out.extend(t for t in listener.failed_applications(tenant, episode) if t not in out)
        return out

    def patterns_shown(
        self,
        tenant: str,
        episode_id: UUID,
        pattern_ids: Sequence[UUID],
        source: ShownSource,
        task_description: str,
    ) -> None:
        for listener in self._listeners:
            listener.patterns_shown(tenant, episode_id, pattern_ids, source, task_description)
