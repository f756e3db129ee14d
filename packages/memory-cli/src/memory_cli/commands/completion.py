"""``memory completion SHELL``: the tab-completion script for bash, zsh or fish.

The script calls ``memory`` back with ``_MEMORY_COMPLETE`` set; ``memory_cli._app.main``
then answers with the matching commands and options (click's completion protocol).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from memory_cli._examples import examples

COMPLETE_VAR = "_MEMORY_COMPLETE"
EPILOG = examples(
    "memory completion bash >> ~/.bashrc",
    "memory completion zsh > ~/.zfunc/_memory",
    "memory completion fish > ~/.config/fish/completions/memory.fish",
)


class Shell(StrEnum):
    BASH = "bash"
    ZSH = "zsh"
    FISH = "fish"


def enable() -> None:
    """Register the shells' completion classes (only needed when a shell asks)."""
    from typer._completion_classes import completion_init

    completion_init()


def completion(
    shell: Annotated[Shell, typer.Argument(help="Your shell.", case_sensitive=False)],
) -> None:
    """Print the shell's completion script (source it from your shell's start-up file)."""
    from typer._completion_shared import get_completion_script

    typer.echo(get_completion_script(prog_name="memory", complete_var=COMPLETE_VAR, shell=shell))
