"""memory-cli: the operator's command line for memory-core.

Run ``memory --help``. Embedding the app (e.g. in tests)::

    from typer.testing import CliRunner
    from memory_cli import app

    result = CliRunner().invoke(app, ["--format", "json", "health"])
"""

from __future__ import annotations

from memory_cli._version import __version__

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `memory hook` ~10 ms
if TYPE_CHECKING:
    from typing import Any

__all__ = ["__version__", "app", "main"]


def __getattr__(name: str) -> Any:
    # Lazy: ``memory hook`` imports this package and must not pay for Typer.
    if name in ("app", "main"):
        from memory_cli import _app

        return getattr(_app, name)
    raise AttributeError(f"module 'memory_cli' has no attribute {name!r}")
