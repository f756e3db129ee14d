"""The public seams are typed: a misspelt method or filter fails ``mypy --strict`` in the
caller's code, not only at run time (the async façade and ``**filters`` used to be Any)."""

from __future__ import annotations

from pathlib import Path

from mypy import api

CALLER = """
from memory_core import AsyncSelfLearningMemory, QueryResult, SelfLearningMemory

def sync_caller(memory: SelfLearningMemory) -> QueryResult:
    return memory.query("fix the login bug", domain="web", since="7d")

async def async_caller(amem: AsyncSelfLearningMemory) -> QueryResult:
    return await amem.query("fix the login bug", limit=3, tags=["auth"])

def misspelt_filter(memory: SelfLearningMemory) -> None:
    memory.query("fix the login bug", domian="web")

async def misspelt_method(amem: AsyncSelfLearningMemory) -> None:
    await amem.quer("fix the login bug")

async def wrong_result(amem: AsyncSelfLearningMemory) -> int:
    return await amem.query("fix the login bug")
"""


def test_mypy_catches_misspelt_methods_filters_and_wrong_results(tmp_path: Path) -> None:
    caller = tmp_path / "caller.py"
    caller.write_text(CALLER)
    out, err, status = api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(caller)]
    )
    errors = [line for line in out.splitlines() if ": error:" in line]
    lines = sorted({int(line.split(":")[1]) for line in errors})
    assert status == 1, out + err
    # exactly the three wrong callers, none of the right ones
    assert lines == [11, 14, 17], out
    assert "domian" in out and "quer" in out
