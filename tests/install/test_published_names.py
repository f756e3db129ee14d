"""The documented install commands resolve to this project's packages.

The wheels are built from the tree and served as a PEP 503 "simple" index over real HTTP,
placed before PyPI; each documented command (``uv tool install selfmem-mcp``, ``pip install
selfmem-core`` …) then runs as a user would and must install our distribution (our version,
our files) and work. A name that PyPI serves for someone else's project would show here
as another version or other files.
"""

from __future__ import annotations

import zipfile
from importlib.metadata import version
from pathlib import Path

from published import run as _run
from published import uv_env as _uv_env

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *ROOT.glob("packages/*/README.md"), *ROOT.glob("docs/**/*.md")]
OURS = {
    "selfmem-core": "memory_core",
    "selfmem-storage-turso": "memory_storage_turso",
    "selfmem-storage-redb": "memory_storage_redb",
    "selfmem-mcp": "memory_mcp",
    "selfmem-cli": "memory_cli",
}


def test_every_documented_name_is_ours() -> None:
    """The install commands in the docs name only our five distributions."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in DOCS)
    for name in OURS:
        assert name in text, name
    assert "uvx memory-mcp" not in text and "pip install memory-mcp" not in text
    assert "uv tool install memory-mcp" not in text and "pipx install memory-mcp" not in text


def test_every_wheel_carries_its_license_urls_and_a_real_readme(wheels: Path) -> None:
    built = sorted(wheels.glob("*.whl"))
    assert len(built) >= len(OURS)
    for wheel in built:
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
            metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
            text = archive.read(metadata).decode()
        assert any("/licenses/LICENSE" in n for n in names), wheel.name
        assert "Project-URL: Source" in text, wheel.name
        _, _, description = text.partition("\n\n")
        assert len(description.splitlines()) >= 8, f"{wheel.name}: README is its PyPI page"


def test_uv_tool_install_selfmem_mcp_puts_our_server_on_path(
    index_url: str, tmp_path: Path
) -> None:
    env = _uv_env(index_url, tmp_path)
    _run("uv", "tool", "install", "selfmem-mcp", env=env)
    server = tmp_path / "bin" / "memory-mcp"
    assert _run(server, "--version").strip() == f"memory-mcp {version('selfmem-mcp')}"
    python = next((tmp_path / "tools" / "selfmem-mcp").glob("bin/python"))
    probe = (
        "import importlib.metadata as m, memory_mcp, memory_storage_turso, memory_storage_redb;"
        "print(m.version('selfmem-mcp'), m.version('selfmem-core'))"
    )
    assert _run(python, "-c", probe).split() == [version("selfmem-mcp"), version("selfmem-core")]
    # The default server keeps every optional part of the core (the transformer embedder).
    extras = (
        "import tokenizers, safetensors, onnxruntime, memory_embeddings_minilm, httpx, cryptography"
    )
    _run(python, "-c", extras)


def test_pip_install_selfmem_core_alone_names_the_backend_to_add(
    index_url: str, tmp_path: Path
) -> None:
    env = _uv_env(index_url, tmp_path)
    venv = tmp_path / "venv"
    _run("uv", "venv", venv, "--quiet", env=env)
    python = venv / "bin" / "python"
    _run("uv", "pip", "install", "--python", python, "selfmem-core", "--quiet", env=env)
    probe = (
        "from memory_core import MemoryConfig, SelfLearningMemory, ConfigurationError\n"
        "try:\n"
        f"    SelfLearningMemory.from_config(MemoryConfig(database_url='file:{tmp_path}/m.db'))"
        ".health()\n"
        "except ConfigurationError as exc:\n"
        "    print(exc)\n"
    )
    message = _run(python, "-c", probe)
    assert "URL scheme 'file'" in message and "pip install selfmem-storage-turso" in message
    # Light: no model runtime, no HTTP client, no crypto library (they are extras).
    heavy = ("tokenizers", "safetensors", "onnxruntime", "httpx", "cryptography")
    found = f"import importlib.util as u; print([n for n in {heavy!r} if u.find_spec(n)])"
    assert _run(python, "-c", found).strip() == "[]"
    # ...so retrieval is lexical, and health says what to install for vectors.
    reason = (
        "from memory_core import SelfLearningMemory as M; print(M().health().embeddings.detail)"
    )
    assert "selfmem-core[transformer]" in _run(python, "-c", reason)
    assert _ephemeral_store_works(python) == "ok"
    contracts = (
        "try:\n"
        "    from memory_core.testing import StorageContract\n"
        "except ModuleNotFoundError as exc:\n"
        "    print(exc)\n"
    )
    assert "pip install 'selfmem-core[testing]'" in _run(python, "-c", contracts)


def _ephemeral_store_works(python: Path) -> str:
    """The ephemeral store needs no plugin: memory-core alone runs the learning loop."""
    probe = (
        "from memory_core import SelfLearningMemory, TaskContext\n"
        "m = SelfLearningMemory()\n"
        "m.start_episode('works alone', TaskContext(), 'testing')\n"
        "print('ok')\n"
    )
    return _run(python, "-c", probe).strip()


def test_pip_install_selfmem_cli_gives_the_memory_command(index_url: str, tmp_path: Path) -> None:
    env = _uv_env(index_url, tmp_path)
    venv = tmp_path / "venv"
    _run("uv", "venv", venv, "--quiet", env=env)
    _run("uv", "pip", "install", "--python", venv / "bin" / "python", "selfmem-cli", env=env)
    assert _run(venv / "bin" / "memory", "--version").strip() == f"memory {version('selfmem-cli')}"
    work = tmp_path / "work"
    work.mkdir()
    stats = _run(
        venv / "bin" / "memory",
        "--database-url",
        f"file:{work / 'fresh' / 'memory.db'}",
        "-f",
        "json",
        "storage",
        "stats",
    )
    assert '"episodes": 0' in stats
