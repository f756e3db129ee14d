"""The contracts plugins implement, by role, for backend authors.

``StorageBackend`` is the union of ``Lifecycle``, ``EpisodeStore``, ``SearchIndex`` and
``PatternStore``; code that needs one role asks for that role. Optional capabilities are
separate runtime-checkable protocols that the core checks with ``isinstance``:
``RecordStore`` (relationships, checkpoints, tokens…), ``SensitiveStore`` (field
encryption), ``ChannelSearch`` (both search channels in one call), ``IndexWarmer``, ``Scrubber`` (physical deletion), ``Maintenance`` (operator
commands) and, for caches, ``CacheCompactor``. Each method's docstring is its contract;
``memory_core.testing`` holds the suites that check it. ``number_steps`` is the one
numbering rule of ``EpisodeStore.append_next_steps``.
"""

from memory_core._exports import claim
from memory_core._protocols import (
    CacheBackend,
    CacheCompactor,
    CacheFactory,
    ChannelSearch,
    EmbeddingProvider,
    EmbeddingProviderFactory,
    EpisodeStore,
    FloatArray,
    IndexWarmer,
    Lifecycle,
    Maintenance,
    PatternStore,
    RecordStore,
    Scrubber,
    SearchIndex,
    SensitiveStore,
    StorageBackend,
    StorageFactory,
)
from memory_core._validation import number_steps

__all__ = [
    "CacheBackend",
    "CacheCompactor",
    "CacheFactory",
    "ChannelSearch",
    "EmbeddingProvider",
    "EmbeddingProviderFactory",
    "EpisodeStore",
    "FloatArray",
    "IndexWarmer",
    "Lifecycle",
    "Maintenance",
    "PatternStore",
    "RecordStore",
    "Scrubber",
    "SearchIndex",
    "SensitiveStore",
    "StorageBackend",
    "StorageFactory",
    "number_steps",
]

claim(__name__, __all__, globals())
