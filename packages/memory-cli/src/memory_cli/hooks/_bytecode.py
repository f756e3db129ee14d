"""Bytecode for the modules every hook call imports, written once ahead of the calls.

A hook call is a new interpreter, and compiling its ~1,000 lines of source costs it ~5
ms of its 50. Python caches the compiled modules itself, unless it cannot write the
cache or is told not to (``PYTHONDONTWRITEBYTECODE``, common in containers and CI); it
still reads a cache that exists. So the recorder (at its start) and ``memory hooks
install`` compile these few modules where Python looks for them, as ``pip install``
compiles a package whatever that variable says. Only stale or missing files are
written; a read-only install is left as it is.
"""

from __future__ import annotations

import compileall
import importlib.util
from pathlib import Path

# What ``memory hook`` imports (``test_hook_fast_path`` checks the list is complete).
FAST_PATH = (
    "memory_cli",
    "memory_cli.__main__",
    "memory_cli._version",
    "memory_cli.hooks",
    "memory_cli.hooks._fast",
    "memory_cli.hooks._events",
    "memory_cli.hooks._redact",
    "memory_cli.hooks._jsonio",
    "memory_cli.hooks._spool",
    "memory_cli.hooks._pending",
)


def compile_fast_path() -> int:
    """Compile the fast path's modules whose cached bytecode is missing or stale;
    returns how many could not be (an unwritable directory)."""
    failed = 0
    for name in FAST_PATH:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        if origin is None or not origin.endswith(".py"):
            continue
        try:
            ok = compileall.compile_file(Path(origin), quiet=2, force=False)
        except OSError:
            ok = False
        failed += not ok
    return failed
