"""The "Examples" block every command's ``--help`` ends with."""

from __future__ import annotations


def examples(*lines: str) -> str:
    """An epilog listing example invocations, one per line (a Markdown code block)."""
    body = "\n".join(f"$ {line}" for line in lines)
    return f"**Examples**\n\n```\n{body}\n```"
