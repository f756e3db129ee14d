"""Calling the optional operator methods of a storage backend by name.

``integrity_check``, ``vacuum``, ``backup`` and ``sync`` form the optional
``memory_core.protocols.Maintenance`` capability: the libSQL backend has it, others may
not. Checking here gives the operator a clear error when a backend lacks it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memory_core.protocols import Maintenance, StorageBackend

from memory_cli._errors import EXIT_FAILED, CliError


def operator_method(storage: StorageBackend, name: str) -> Callable[..., Any]:
    method: Callable[..., Any] | None = (
        getattr(storage, name, None) if isinstance(storage, Maintenance) else None
    )
    if method is None or not callable(method):
        backend = getattr(storage, "name", type(storage).__name__)
        raise CliError(
            f"the {backend!r} storage backend does not support {name.replace('_', ' ')}"
            " (the libsql backend does)",
            exit_code=EXIT_FAILED,
        )
    return method


def integrity_ok(result: Any) -> tuple[bool, list[str]]:
    """Interpret an ``integrity_check`` result: a bool, ``["ok"]``-style messages, or a
    mapping with ``ok`` and details (libSQL: ``messages`` and per-index ``fts`` results)."""
    if isinstance(result, bool):
        return result, []
    if isinstance(result, dict):
        ok = bool(result.get("ok"))
        problems = [str(m) for m in result.get("messages") or [] if str(m) != "ok"]
        for name, status in (result.get("fts") or {}).items():
            if status != "ok":
                problems.append(f"{name}: {status}")
        return ok and not problems, problems
    if isinstance(result, list | tuple):
        messages = [str(m) for m in result]
        ok = messages in (["ok"], [])
        return ok, [] if ok else messages
    return bool(result), []
