"""``memory hooks``: install the agent hooks that record and recall automatically;
``memory hook``: the command the agent runs on each event (see ``memory_cli.hooks``)."""

from __future__ import annotations

import json
import os
import socket
import sys
from enum import StrEnum
from typing import Annotated

import typer

from memory_cli._errors import CliError
from memory_cli._examples import examples
from memory_cli._output import emit
from memory_cli._state import get_state
from memory_cli.hooks import _opencode, _spool
from memory_cli.hooks._bytecode import compile_fast_path
from memory_cli.hooks._fast import AGENTS, SOCKET
from memory_cli.hooks._fast import run as run_hook
from memory_cli.hooks._settings import DEFAULT_COMMAND, SettingsError, plan, settings_path

app = typer.Typer(
    help="Record and recall automatically through Claude Code's hooks or OpenCode's plugin: "
    "install, remove, check the background recorder.",
    epilog=examples(
        "memory hooks install claude-code",
        "memory hooks install claude-code --project --dry-run",
        "memory hooks install opencode --project",
        "memory hooks status",
        "memory hooks uninstall claude-code",
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


class Agent(StrEnum):
    CLAUDE_CODE = "claude-code"
    OPENCODE = "opencode"


AgentArg = Annotated[Agent, typer.Argument(help="The agent whose settings to change.")]
ProjectOpt = Annotated[
    bool,
    typer.Option(
        "--project",
        help="This project's .claude/settings.json (OpenCode: .opencode/plugins/) instead of "
        "the user's.",
    ),
]
UserOpt = Annotated[
    bool,
    typer.Option(
        "--user",
        help="~/.claude/settings.json (OpenCode: ~/.config/opencode/plugins/), the default: "
        "every project.",
    ),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Print the change as a diff; write nothing.")
]


def _scope(project: bool, user: bool) -> str:
    if project and user:
        raise CliError("choose one of --project and --user", exit_code=2)
    return "project" if project else "user"


def _apply(
    ctx: typer.Context,
    agent: Agent,
    install: bool,
    project: bool,
    user: bool,
    dry_run: bool,
    command: str,
) -> None:
    state = get_state(ctx)
    scope = _scope(project, user)
    try:
        if agent is Agent.OPENCODE:
            path = _opencode.plugin_path(scope)
            change = _opencode.plan(path, install)
        else:
            path = settings_path(scope)
            change = plan(path, install, command)
    except SettingsError as exc:
        raise CliError(str(exc)) from None
    if dry_run:
        sys.stdout.write(change.diff() or f"no change to {path}\n")
        return
    if change.changed:
        change.write()
    verb = "installed" if install else "removed"
    status = verb if change.changed else ("already installed" if install else "not installed")
    data = {"settings": str(path), "status": status, "hook_dir": _spool.hook_dir()}
    emit(state.format, data)


@app.command(
    epilog=examples(
        "memory hooks install claude-code",
        "memory hooks install claude-code --project --dry-run",
        "memory hooks install claude-code --user",
        "memory hooks install opencode --project",
    )
)
def install(
    ctx: typer.Context,
    agent: AgentArg,
    project: ProjectOpt = False,
    user: UserOpt = False,
    dry_run: DryRunOpt = False,
    command: Annotated[
        str, typer.Option("--command", help="The command the hooks run.")
    ] = DEFAULT_COMMAND,
) -> None:
    """Add the memory hooks to Claude Code's settings (every other entry is kept), or the
    memory plugin to OpenCode's plugin folder."""
    if agent is Agent.OPENCODE and command != DEFAULT_COMMAND:
        raise CliError(
            "--command is for claude-code; the OpenCode plugin runs MEMORY_HOOK_COMMAND "
            "(default: memory)",
            exit_code=2,
        )
    _apply(ctx, agent, True, project, user, dry_run, command)
    if not dry_run:
        compile_fast_path()  # every hook call then starts without compiling its modules


@app.command(
    epilog=examples(
        "memory hooks uninstall claude-code",
        "memory hooks uninstall claude-code --project",
        "memory hooks uninstall opencode --project",
    )
)
def uninstall(
    ctx: typer.Context,
    agent: AgentArg,
    project: ProjectOpt = False,
    user: UserOpt = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Remove only the memory hooks from Claude Code's settings (or only our OpenCode
    plugin file)."""
    _apply(ctx, agent, False, project, user, dry_run, DEFAULT_COMMAND)


def _ask(directory: str, op: str) -> dict[str, object] | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    try:
        sock.connect(os.path.join(directory, SOCKET))
        sock.sendall(json.dumps({"op": op}).encode() + b"\n")
        data = b""
        while b"\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        return None
    finally:
        sock.close()
    reply = json.loads(data or b"{}")
    return reply if isinstance(reply, dict) else None


@app.command(epilog=examples("memory hooks status", "memory -f json hooks status"))
def status(ctx: typer.Context) -> None:
    """Where hook events are spooled, whether the recorder runs, what waits to be ingested."""
    state = get_state(ctx)
    directory = _spool.hook_dir()
    spooled = 0
    if os.path.isdir(directory):
        for name in os.listdir(directory):
            if name.startswith(_spool.TAKEN_PREFIX):
                with open(os.path.join(directory, name), "rb") as f:
                    spooled += sum(1 for _ in f)
    reply = _ask(directory, "ping")
    data = {
        "hook_dir": directory,
        "recorder": "running" if reply is not None else "stopped",
        "database": reply.get("database") if reply else None,
        "spooled_events": spooled,
    }
    emit(state.format, data)


@app.command(epilog=examples("memory hooks stop"))
def stop(ctx: typer.Context) -> None:
    """Ingest what is spooled and stop the background recorder (the next hook restarts it)."""
    state = get_state(ctx)
    reply = _ask(_spool.hook_dir(), "shutdown")
    emit(state.format, {"recorder": "stopped" if reply is not None else "was not running"})


def hook(
    ctx: typer.Context,
    agent: Annotated[
        str, typer.Argument(help=f"The agent sending the event: {', '.join(AGENTS)}.")
    ],
) -> None:
    """Handle one hook event from stdin (what the agent runs; always exits 0)."""
    overrides = get_state(ctx).overrides
    if "database_url" in overrides:  # for a recorder this call starts
        os.environ["MEMORY_DATABASE_URL"] = str(overrides["database_url"])
    if "tenant" in overrides:
        os.environ["MEMORY_TENANT"] = str(overrides["tenant"])
    raise typer.Exit(run_hook([agent]))


HOOK_EPILOG = examples(
    "memory hook claude-code < event.json",
    "memory hooks install claude-code  # let Claude Code run it",
)
