"""``ForwardingStorage`` forwards every protocol method, so a wrapper cannot miss one."""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any

import pytest
from memory_core.protocols import (
    EpisodeStore,
    Lifecycle,
    PatternStore,
    RecordStore,
    SearchIndex,
    StorageBackend,
)
from memory_core.security import EncryptedStorage
from memory_core.storage.forwarding import ForwardingStorage
from memory_core.storage.sharded import ShardedStorage

PROTOCOLS = (Lifecycle, EpisodeStore, SearchIndex, PatternStore, RecordStore)


def _members(protocol: type) -> list[str]:
    return [
        name
        for name, value in vars(protocol).items()
        if not name.startswith("_") and (inspect.isfunction(value) or isinstance(value, property))
    ]


METHODS = sorted({name for p in PROTOCOLS for name in _members(p)})


def test_the_protocols_are_what_a_storage_backend_is() -> None:
    assert set(METHODS) - set(_members(RecordStore)) == {
        n for p in StorageBackend.__mro__ if p in PROTOCOLS for n in _members(p)
    }
    assert len(METHODS) >= 39  # a protocol losing its methods would make this test vacuous


@pytest.mark.parametrize("name", METHODS)
def test_every_protocol_method_is_forwarded_with_its_signature(name: str) -> None:
    protocol = next(p for p in PROTOCOLS if name in vars(p))
    ours = vars(ForwardingStorage).get(name)
    assert ours is not None, f"ForwardingStorage does not forward {protocol.__name__}.{name}"
    theirs = vars(protocol)[name]
    if isinstance(theirs, property):
        assert isinstance(ours, property)
        return
    assert inspect.signature(ours) == inspect.signature(theirs), name


class _Recorder:
    """Stands for the wrapped backend: records each call it gets."""

    schema_version = 7

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> str:
            self.calls.append((name, args, kwargs))
            return f"result of {name}"

        return call


class _Plain(ForwardingStorage):
    def __init__(self, inner: _Recorder) -> None:
        self.inner = inner
        self.routed: list[str | None] = []

    def _backend(self, tenant: str) -> StorageBackend:
        self.routed.append(tenant)
        return self.inner  # type: ignore[return-value]

    def _whole(self) -> StorageBackend:
        self.routed.append(None)
        return self.inner  # type: ignore[return-value]


class _Episode:
    tenant = "acme"


def _arguments(name: str) -> tuple[list[Any], dict[str, Any]]:
    """One distinct value per parameter (``tenant`` is ``"acme"``)."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for p in list(inspect.signature(getattr(ForwardingStorage, name)).parameters.values())[1:]:
        value: Any = "acme" if p.name == "tenant" else f"<{p.name}>"
        if p.name == "episode":
            value = _Episode()
        if p.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[p.name] = value
        else:
            args.append(value)
    return args, kwargs


@pytest.mark.parametrize("name", [n for n in METHODS if n != "schema_version"])
def test_each_call_reaches_the_backend_unchanged(name: str) -> None:
    inner = _Recorder()
    wrapper = _Plain(inner)
    args, kwargs = _arguments(name)
    result = getattr(wrapper, name)(*args, **kwargs)
    assert inner.calls == [(name, tuple(args), kwargs)]
    assert result in (f"result of {name}", None)
    takes_tenant = "tenant" in inspect.signature(getattr(ForwardingStorage, name)).parameters
    routed_by_episode = "episode" in inspect.signature(getattr(ForwardingStorage, name)).parameters
    assert wrapper.routed == (["acme"] if takes_tenant or routed_by_episode else [None])


def test_schema_version_is_the_backends() -> None:
    assert _Plain(_Recorder()).schema_version == 7


def _uses_whole(name: str) -> bool:
    member = vars(ForwardingStorage)[name]
    code = member.fget if isinstance(member, property) else member
    return "_whole()" in inspect.getsource(code)


def test_the_sharded_router_covers_every_call_about_no_one_tenant() -> None:
    """A shard router has no single backend: each such call must be its own."""
    whole = [n for n in METHODS if _uses_whole(n)]
    assert "pending_extractions" in whole and "close" in whole
    missing = [n for n in whole if n not in vars(ShardedStorage)]
    assert not missing, f"ShardedStorage must aggregate {missing} over its shards"


def _only_forwards(method: Any) -> bool:
    """Whether the body is one ``[return] self.inner.<name>(...)`` (docstring aside)."""
    fn = ast.parse(textwrap.dedent(inspect.getsource(method))).body[0]
    assert isinstance(fn, ast.FunctionDef)
    body = [
        s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
    ]
    if len(body) != 1 or not isinstance(body[0], ast.Return | ast.Expr):
        return False
    call = body[0].value
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and ast.unparse(call.func.value) in ("self.inner", "self.records")
    )


def test_the_wrappers_override_only_what_they_change() -> None:
    """A method a wrapper defines again must change something (forwarding is the base's)."""
    for wrapper in (ShardedStorage, EncryptedStorage):
        assert issubclass(wrapper, ForwardingStorage)
        for name in METHODS:
            mine = vars(wrapper).get(name)
            if mine is None or isinstance(mine, property):
                continue
            assert not _only_forwards(mine), f"{wrapper.__name__}.{name} only forwards"


def test_a_plain_forward_is_recognised() -> None:
    class Redundant(ForwardingStorage):
        def count_episodes(self, tenant: str, filters: Any) -> int:
            return self.inner.count_episodes(tenant, filters)  # type: ignore[attr-defined,no-any-return]

    assert _only_forwards(Redundant.count_episodes)
    assert not _only_forwards(EncryptedStorage.put_embeddings)
