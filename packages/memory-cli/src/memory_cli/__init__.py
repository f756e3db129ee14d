"""memory-cli: the operator's command line for memory-core.

Run ``memory --help``. Embedding the app (e.g. in tests)::

    from typer.testing import CliRunner
    from memory_cli import app

    result = CliRunner().invoke(app, ["--format", "json", "health"])
"""

from memory_cli._app import app
from memory_cli._version import __version__
from memory_cli.__main__ import main

__all__ = ["__version__", "app", "main"]
