"""``WorkflowMixin``: the workflow methods of ``SelfLearningMemory``, one small mixin
per concept. Each uses the memory's storage (through ``RecordStore``), tenant, lock,
limits and metrics, so the same rules hold as for the core loop."""

from __future__ import annotations

from memory_core.workflow._checkpoints import CheckpointsMixin
from memory_core.workflow._feedback import FeedbackMixin
from memory_core.workflow._playbooks import PlaybooksMixin
from memory_core.workflow._relationships import RelationshipsMixin
from memory_core.workflow._tags import TagsMixin


class WorkflowMixin(TagsMixin, RelationshipsMixin, CheckpointsMixin, PlaybooksMixin, FeedbackMixin):
    """Mixed into ``SelfLearningMemory``; uses its storage, tenant and lock."""
