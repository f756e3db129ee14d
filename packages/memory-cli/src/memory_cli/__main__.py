"""``memory`` console script and ``python -m memory_cli``."""

from __future__ import annotations

from memory_cli._app import app


def main() -> None:
    app(prog_name="memory")


if __name__ == "__main__":
    main()
