"""``WorkflowService``: the workflow features composed, and their lifecycle reactions.

``SelfLearningMemory`` holds one and delegates its workflow methods to the feature it
names (``tags``, ``relationships``, ``checkpoints``, ``playbooks``, ``feedback``). The
service listens to the loop's lifecycle events for the recommendation sessions: the core
never calls a feature by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from memory_core._events import LifecycleListener, ShownSource
from memory_core._models import Episode
from memory_core.workflow._checkpoints import Checkpoints
from memory_core.workflow._context import WorkflowContext
from memory_core.workflow._feedback import Feedback
from memory_core.workflow._playbooks import Playbooks
from memory_core.workflow._relationships import Relationships
from memory_core.workflow._tags import Tags


class WorkflowService(LifecycleListener):
    """Tags, relationships, checkpoints, playbooks and feedback over one context."""

    def __init__(self, context: WorkflowContext) -> None:
        self.tags = Tags(context)
        self.relationships = Relationships(context)
        self.checkpoints = Checkpoints(context, self.relationships)
        self.feedback = Feedback(context)
        self.playbooks = Playbooks(context, self.feedback)

    def episode_completed(self, tenant: str, episode: Episode) -> None:
        self.feedback.close_recommendations(tenant, episode)

    def failed_applications(self, tenant: str, episode: Episode) -> list[list[str]]:
        # Patterns of stored sessions join the shown set before extraction (as they do
        # at completion), so the credit's failed applications include playbook steps.
        self.feedback.load_recommendations(tenant, episode.id)
        return []

    def patterns_shown(
        self,
        tenant: str,
        episode_id: UUID,
        pattern_ids: Sequence[UUID],
        source: ShownSource,
        task_description: str,
    ) -> None:
        self.feedback.record_recommendation(
            tenant, episode_id, pattern_ids, source, task_description
        )
