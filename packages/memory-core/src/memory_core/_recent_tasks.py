"""The recently completed tasks of each tenant, where the reward looks for similar ones.

The step-efficiency reference of a completion (``RewardScore.reference_steps``) is the
median step count of successful episodes of the same task type whose task text is
relevant to this one. Looking for them with a lexical search over the whole store made
every ``complete_episode`` cost a BM25 pass over every stored text (about 0.4 s of its
0.43 s at 447K episodes). They are looked for among the tenant's ``WINDOW`` most recently
completed successful episodes of the task type instead: what similar tasks needed lately, at a cost that does not
grow with the store. The window is seeded once per tenant by one read of the newest
summaries and kept up to date by this process's completions; the chosen candidates are
read back from storage, so a deleted or changed episode is never taken as it was.
"""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock
from uuid import UUID

from memory_core._models import EpisodeSummary, OutcomeType, TaskType
from memory_core.relevance import lexical_relevance, query_weights

__all__ = ["SEED_READ", "WINDOW", "RecentTasks"]

WINDOW = 500
"""Successful episodes remembered per tenant and task type: enough for the few similar
tasks a reference needs (five), few enough that scanning them costs about a millisecond."""

SEED_READ = 250
"""Newest summaries read to seed a tenant's windows (all task types together) at the
first completion of a process: about 0.1 s once (1,000 took 0.35 s at 447K episodes, a
cost a one-shot CLI process pays on every call); the windows fill from there."""


class RecentTasks:
    """Per tenant and task type, the terms of the window's episodes, newest last."""

    def __init__(self, window: int = WINDOW) -> None:
        self._window = window
        self._tenants: dict[str, dict[TaskType, OrderedDict[UUID, frozenset[str]]]] = {}
        self._lock = Lock()

    def seeded(self, tenant: str) -> bool:
        return tenant in self._tenants

    def seed(self, tenant: str, newest_first: list[EpisodeSummary]) -> None:
        """Start the tenant's window from its newest summaries (read once)."""
        with self._lock:
            if tenant in self._tenants:
                return
            self._tenants[tenant] = {}
        for s in reversed(newest_first):
            if s.outcome is OutcomeType.SUCCESS:
                self.add(tenant, s.id, s.task_type, s.task_description)

    def add(self, tenant: str, episode_id: UUID, task_type: TaskType, text: str) -> None:
        """Remember a successful completion (only those can be a reference)."""
        with self._lock:
            windows = self._tenants.get(tenant)
            if windows is None:
                return  # seeded (with this episode among the newest) when first needed
            for other in windows.values():  # a corrected task type moves it
                other.pop(episode_id, None)
            window = windows.setdefault(task_type, OrderedDict())
            window[episode_id] = frozenset(query_weights(text))
            while len(window) > self._window:
                window.popitem(last=False)

    def forget(self, tenant: str, episode_id: UUID) -> None:
        with self._lock:
            for window in self._tenants.get(tenant, {}).values():
                window.pop(episode_id, None)

    def similar(
        self, tenant: str, text: str, task_type: TaskType, floor: float, limit: int, exclude: UUID
    ) -> list[UUID]:
        """Up to ``limit`` remembered episodes of ``task_type`` whose task text holds at
        least ``floor`` of this text's term weight: most relevant first, then newest."""
        weights = query_weights(text)
        wanted = frozenset(weights)
        with self._lock:
            window = list(self._tenants.get(tenant, {}).get(task_type, {}).items())
        scored: list[tuple[float, int, UUID]] = []
        for age, (eid, terms) in enumerate(reversed(window)):
            if eid == exclude:
                continue
            held = wanted & terms
            if held:
                relevance = lexical_relevance(weights, held)
                if relevance >= floor:
                    scored.append((-relevance, age, eid))
        scored.sort()
        return [eid for _, _, eid in scored[:limit]]
