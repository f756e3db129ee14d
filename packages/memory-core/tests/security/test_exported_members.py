"""The public names of memory_core.security resolve (lazy imports stay in sync)."""

from __future__ import annotations

import memory_core.security as security


def test_every_exported_name_resolves() -> None:
    for name in security.__all__:
        assert getattr(security, name) is not None, name
    assert sorted(security.__all__) == sorted(security._WHERE)
