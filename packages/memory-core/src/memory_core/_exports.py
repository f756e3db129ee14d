"""How a public module shows the names it re-exports: as its own, not a private module's.

``claim`` sets ``__module__`` of each public class and function that still names a
private module (reprs, docs and tracebacks then say ``memory_core.models.Pattern``, and
pickles find the class there). The top-level package claims its names last and always,
so a name exported at the top reads ``memory_core.X`` wherever else it is listed.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping

__all__ = ["claim"]


def _private(module: str) -> bool:
    return any(part.startswith("_") for part in module.split("."))


def claim(
    module: str, names: Iterable[str], namespace: Mapping[str, object], *, force: bool = False
) -> None:
    for name in names:
        member = namespace[name]
        if not (isinstance(member, type) or inspect.isfunction(member)):
            continue
        if force or _private(getattr(member, "__module__", "") or "_"):
            member.__module__ = module
