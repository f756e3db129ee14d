"""What a shell user expects: a quick ``--version``, global options after the subcommand,
tab completion. Real processes of the installed ``memory`` script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(sys.executable).with_name("memory")


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )


def test_version_loads_neither_typer_nor_memory_core() -> None:
    probe = (
        "import sys; sys.argv = ['memory', '--version'];"
        "from memory_cli.__main__ import main; main();"
        "print(sorted(m for m in ('typer', 'memory_core', 'rich') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    from memory_cli._version import __version__

    assert out == [f"memory {__version__}", "[]"]


def test_global_options_after_the_subcommand(env: Any) -> None:
    started = _run(["episode", "start", "Options at the end", "--format", "json"], env.work)
    assert started.returncode == 0, started.stderr
    eid = json.loads(started.stdout)["id"]
    listed = _run(["episode", "list", "-f", "json"], env.work)
    assert listed.returncode == 0, listed.stderr
    assert [item["id"] for item in json.loads(listed.stdout)["items"]] == [eid]
    inline = _run(["episode", "list", "--format=json", "--tenant", "elsewhere"], env.work)
    assert inline.returncode == 0, inline.stderr
    assert json.loads(inline.stdout)["items"] == []  # --tenant was honoured, not dropped


def test_a_command_option_of_the_same_name_wins(env: Any) -> None:
    """``relationship graph --format dot`` is the graph's own option (dot is no global
    format); ``-f`` after it is still the global one."""
    dot = _run(["relationship", "graph", "--format", "dot"], env.work)
    assert dot.returncode == 0, dot.stderr
    assert dot.stdout.startswith("digraph")
    as_json = _run(["relationship", "graph", "-f", "json"], env.work)
    assert as_json.returncode == 0, as_json.stderr
    json.loads(as_json.stdout)
    after_dashes = _run(["query", "--", "-f"], env.work)  # a task text, not an option
    assert after_dashes.returncode == 0, after_dashes.stderr


def test_completion_script_and_answers(env: Any) -> None:
    script = _run(["completion", "bash"], env.work)
    assert script.returncode == 0 and "_MEMORY_COMPLETE=complete_bash" in script.stdout
    commands = _run(
        [], env.work, _MEMORY_COMPLETE="complete_bash", COMP_WORDS="memory epi", COMP_CWORD="1"
    )
    assert commands.stdout.split() == ["episode"]
    subcommands = _run(
        [],
        env.work,
        _MEMORY_COMPLETE="complete_bash",
        COMP_WORDS="memory episode li",
        COMP_CWORD="2",
    )
    assert subcommands.stdout.split() == ["list"]
    bad = _run(["completion", "tcsh"], env.work)
    assert bad.returncode == 2 and "tcsh" in bad.stderr
