"""Every error memory-core raises: the whole tree, for front ends that map it once.

``MemoryCoreError`` is the root; each error names the field and the limit a user broke
(``field``, ``limit``) or the configuration key (``key``). The common ones are also at
the top (``memory_core.InvalidInputError``…); the workflow's three live in
``memory_core.workflow`` and are repeated here so a front end finds the tree in one place.
"""

from memory_core._errors import (
    BackendNotFoundError,
    CacheError,
    ConfigurationError,
    DuplicateStepError,
    EmbeddingError,
    EmbeddingModelMismatchError,
    EpisodeNotFoundError,
    EpisodeStateError,
    InvalidInputError,
    MemoryCoreError,
    NotFoundError,
    PatternNotFoundError,
    SchemaVersionError,
    StorageError,
)
from memory_core._exports import claim
from memory_core.workflow import (
    CheckpointNotFoundError,
    RelationshipCycleError,
    RelationshipNotFoundError,
)

__all__ = [
    "BackendNotFoundError",
    "CacheError",
    "CheckpointNotFoundError",
    "ConfigurationError",
    "DuplicateStepError",
    "EmbeddingError",
    "EmbeddingModelMismatchError",
    "EpisodeNotFoundError",
    "EpisodeStateError",
    "InvalidInputError",
    "MemoryCoreError",
    "NotFoundError",
    "PatternNotFoundError",
    "RelationshipCycleError",
    "RelationshipNotFoundError",
    "SchemaVersionError",
    "StorageError",
]

claim(__name__, __all__, globals())
