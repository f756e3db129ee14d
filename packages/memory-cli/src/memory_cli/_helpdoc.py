"""Build ``docs/cli-help.md`` from the real ``--help`` output of every command.

Run ``uv run python packages/memory-cli/scripts/cli_help.py`` to regenerate it; a test
fails when the file is out of date, so the documentation cannot drift from the code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from typer.main import get_command
from typer.testing import CliRunner

WIDTH = 80
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

_HEADER = """\
# `memory` command reference

Generated from `--help` by `scripts/cli_help.py`; do not edit by hand.
Global options (`--config`, `--database-url`, `--tenant`, `--format`, `-v`) go before
the command: `memory --format json episode list`.
"""


def command_paths() -> Iterator[list[str]]:
    """Every command and group, depth first, in the order ``--help`` lists them."""
    from memory_cli._app import app

    def walk(command: Any, path: list[str]) -> Iterator[list[str]]:
        yield path
        commands = getattr(command, "commands", None)
        if commands:
            for name in command.list_commands(None):
                yield from walk(commands[name], [*path, name])

    yield from walk(get_command(app), [])


def help_text(path: list[str]) -> str:
    from memory_cli._app import app

    result = CliRunner().invoke(
        app,
        [*path, "--help"],
        prog_name="memory",
        env={"COLUMNS": str(WIDTH), "TERMINAL_WIDTH": str(WIDTH), "NO_COLOR": "1"},
        color=False,
    )
    if result.exit_code != 0:
        raise RuntimeError(f"memory {' '.join(path)} --help failed: {result.output}")
    plain = _ANSI.sub("", result.output)  # in case FORCE_COLOR or similar is set
    lines = [line.rstrip() for line in plain.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def render() -> str:
    parts = [_HEADER]
    for path in command_paths():
        title = " ".join(["memory", *path])
        parts.append(f"## `{title}`\n\n```text\n{help_text(path)}\n```\n")
    return "\n".join(parts)
