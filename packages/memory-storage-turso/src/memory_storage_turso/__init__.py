"""Durable storage for memory-core on libSQL (Turso): a local file, a remote server, or an
embedded replica, with in-process BM25 lexical search and exact vector search.

memory-core finds it through the ``memory_core.storage`` entry point ``libsql``::

    from memory_core import MemoryConfig, SelfLearningMemory
    memory = SelfLearningMemory.from_config(MemoryConfig(database_url="file:./memory.db"))
"""

from memory_storage_turso._schema import LATEST as SCHEMA_LATEST
from memory_storage_turso._storage import LibSQLStorage
from memory_storage_turso._version import __version__

__all__ = ["SCHEMA_LATEST", "LibSQLStorage", "__version__"]

LibSQLStorage.__module__ = "memory_storage_turso"
