"""memory-cli: the operator's command line for memory-core.

Run ``memory --help``. Embedding the app (e.g. in tests)::

    from typer.testing import CliRunner
    from memory_cli import app

    result = CliRunner().invoke(app, ["--format", "json", "health"])
"""

from memory_cli._app import app, main
from memory_cli._version import __version__

__all__ = ["__version__", "app", "main"]
