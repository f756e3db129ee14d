"""Global options accepted anywhere: ``memory episode list --format json``.

Click only parses a group's options before the subcommand's name. People (and scripts)
write them at the end too, so the root group moves them to the front before parsing —
unless the command they follow defines an option of the same name, which then wins.
Everything after ``--`` is left alone. Typer vendors its own click, so commands and
options are recognised by what they have (``opts``, ``get_command``), not by class.
"""

from __future__ import annotations

from typing import Any


def _option_names(command: Any) -> dict[str, bool]:
    """Option spelling → whether it takes a value, for one command's own options."""
    names: dict[str, bool] = {}
    for param in command.params:
        if getattr(param, "param_type_name", "") == "option":
            takes_value = not (param.is_flag or param.count)
            for name in (*param.opts, *param.secondary_opts):
                names[name] = takes_value
    return names


def hoist_global_options(group: Any, ctx: Any, args: list[str]) -> list[str]:
    """``args`` with the group's options that follow the subcommand moved to the front."""
    globals_ = _option_names(group)
    front: list[str] = []
    rest: list[str] = []
    command: Any = group
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":
            rest.extend(args[i:])
            break
        name, has_inline_value = token.split("=", 1)[0], "=" in token
        own = _option_names(command) if command is not group else {}
        if command is not group and name in globals_ and name not in own:
            front.append(token)
            if globals_[name] and not has_inline_value and i + 1 < len(args):
                front.append(args[i + 1])
                i += 1
        else:
            rest.append(token)
            if command is group and name in globals_ and globals_[name] and not has_inline_value:
                if i + 1 < len(args):  # the value of a global option given up front
                    rest.append(args[i + 1])
                    i += 1
            elif not token.startswith("-") and hasattr(command, "get_command"):
                sub = command.get_command(ctx, token)
                if sub is not None:
                    command = sub
        i += 1
    return front + rest


__all__ = ["hoist_global_options"]
