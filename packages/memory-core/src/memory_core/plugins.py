"""Plugins: the entry-point groups and the typed loader.

A storage, cache or embedding plugin registers a factory under its group
(``STORAGE_GROUP`` = ``memory_core.storage``…); ``load_plugin(group, name)`` loads one
and checks what it loaded; ``installed_plugins(group)`` lists what is installed (for
error messages and ``memory plugins``).
"""

from memory_core._exports import claim
from memory_core._plugins import (
    CACHE_GROUP,
    EMBEDDINGS_GROUP,
    STORAGE_GROUP,
    load_plugin,
)
from memory_core._plugins import (
    installed as installed_plugins,
)

__all__ = ["CACHE_GROUP", "EMBEDDINGS_GROUP", "STORAGE_GROUP", "installed_plugins", "load_plugin"]

claim(__name__, __all__, globals())
