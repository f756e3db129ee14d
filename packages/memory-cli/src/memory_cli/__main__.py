"""``memory`` console script and ``python -m memory_cli``."""

from __future__ import annotations

import sys


def main() -> None:
    """The ``memory`` console script; ``memory hook …`` and ``--version`` skip Typer (fast)."""
    if len(sys.argv) > 1 and sys.argv[1] == "hook":
        from memory_cli.hooks._fast import run

        sys.exit(run(sys.argv[2:]))
    if sys.argv[1:] == ["--version"]:  # answered before Typer and memory_core load (~1 s)
        from memory_cli._version import __version__

        sys.stdout.write(f"memory {__version__}\n")
        return
    from memory_cli._app import main as app_main

    app_main()


__all__ = ["main"]

if __name__ == "__main__":
    main()
