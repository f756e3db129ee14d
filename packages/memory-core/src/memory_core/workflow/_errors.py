"""Errors of the workflow features, under the memory-core tree::

NotFoundError
├── CheckpointNotFoundError
└── RelationshipNotFoundError
InvalidInputError
└── RelationshipCycleError     the link would close a cycle; carries it
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from memory_core._errors import InvalidInputError, NotFoundError

__all__ = ["CheckpointNotFoundError", "RelationshipCycleError", "RelationshipNotFoundError"]


class CheckpointNotFoundError(NotFoundError):
    def __init__(self, checkpoint_id: str) -> None:
        super().__init__(f"checkpoint not found: {checkpoint_id}")
        self.checkpoint_id = checkpoint_id


class RelationshipNotFoundError(NotFoundError):
    def __init__(self, relationship_id: str) -> None:
        super().__init__(f"relationship not found: {relationship_id}")
        self.relationship_id = relationship_id


class RelationshipCycleError(InvalidInputError):
    """Adding the link would make a cycle among the acyclic relationship types.

    Args:
        cycle: episode ids around the cycle, the first repeated at the end.
    """

    def __init__(self, message: str, cycle: Sequence[UUID], *, field: str = "target_id") -> None:
        super().__init__(message, field=field)
        self.cycle = list(cycle)
