"""``memory`` console script and ``python -m memory_cli``."""

from __future__ import annotations

from memory_cli._app import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
