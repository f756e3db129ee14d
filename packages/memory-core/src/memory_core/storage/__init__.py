"""Storage backends that ship with memory-core. Durable ones are separate plugins."""

from memory_core.storage.in_memory import InMemoryStorage

__all__ = ["InMemoryStorage"]
