"""Every package's source imports memory-core's public names only.

A name is public when its module has no ``_``-prefixed part and lists it in ``__all__``;
so ``from memory_core import X`` needs ``X`` in ``memory_core.__all__`` (a moved name that
resolves only through the deprecation shim fails here), and ``memory_core._anything`` is
never imported from another package. No package imports another's ``src`` either: each
may import only its own top-level package and memory_core.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for p in (ROOT / "packages").glob("*/src/*") if (p / "__init__.py").exists())
OURS = {p.name for p in SOURCES}


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of each absolute import of one of our packages."""
    out: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, a.name, []) for a in node.names)
    return [i for i in out if i[1].split(".")[0] in OURS]


def _problems(package: Path, root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        where = path.relative_to(root)
        for line, module, names in _imports(path):
            top = module.split(".")[0]
            if top == package.name:
                continue
            if top != "memory_core":
                found.append(f"{where}:{line}: imports another package's src ({module})")
                continue
            if any(part.startswith("_") for part in module.split(".")):
                found.append(f"{where}:{line}: private module {module}")
                continue
            public = set(getattr(importlib.import_module(module), "__all__", ()))
            for name in names:
                if name not in public:
                    sub = f"{module}.{name}"
                    try:  # a public submodule imported by name (from memory_core import testing)
                        importlib.import_module(sub)
                    except ModuleNotFoundError:
                        found.append(f"{where}:{line}: {name} is not in {module}.__all__")
    return found


@pytest.mark.parametrize("package", [p for p in SOURCES if p.name != "memory_core"], ids=str)
def test_a_package_imports_public_names_of_memory_core_only(package: Path) -> None:
    assert _problems(package) == []


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    fake = tmp_path / "memory_fake"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "from memory_core._models import Episode\nfrom memory_core import CacheKind\n"
        "from memory_core.models import CacheKind as Kind\n",
        encoding="utf-8",
    )
    problems = [p.split(": ", 1)[1] for p in _problems(fake, tmp_path)]
    assert problems == [
        "private module memory_core._models",
        "CacheKind is not in memory_core.__all__",
    ]
