"""The "Examples" block every command's ``--help`` ends with."""

from __future__ import annotations

from rich.markup import escape


def examples(*lines: str) -> str:
    """An epilog listing example invocations, one per line (rich markup escaped)."""
    body = "\n".join(f"  $ {escape(line)}" for line in lines)
    return f"[bold]Examples[/bold]\n{body}"
