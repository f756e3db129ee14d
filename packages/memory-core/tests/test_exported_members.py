"""``memory_core.__all__`` is the public surface: every name exists, is shown as
``memory_core.X``, and nothing public is left out of it by accident."""

from __future__ import annotations

import importlib
import inspect
import pickle

import memory_core
import pytest


def test_all_names_exist_and_are_unique() -> None:
    assert len(memory_core.__all__) == len(set(memory_core.__all__))
    missing = [name for name in memory_core.__all__ if not hasattr(memory_core, name)]
    assert missing == []


def test_public_classes_and_functions_belong_to_memory_core() -> None:
    wrong = {
        name: member.__module__
        for name in memory_core.__all__
        if (isinstance(member := getattr(memory_core, name), type) or callable(member))
        and member.__module__ != "memory_core"
    }
    assert wrong == {}


def test_every_public_top_level_name_is_listed() -> None:
    listed = set(memory_core.__all__)
    unlisted = {
        name
        for name, member in vars(memory_core).items()
        if not name.startswith("_")
        and (isinstance(member, type) or callable(member))
        and name not in listed
    }
    assert unlisted == set()


def test_public_models_survive_pickling_under_their_public_name() -> None:
    outcome = memory_core.TaskOutcome.success("done")
    assert pickle.loads(pickle.dumps(outcome)) == outcome
    assert repr(memory_core.Episode).startswith("<class 'memory_core.Episode'")


PUBLIC_MODULES = ("config", "errors", "models", "plugins", "protocols", "workflow")


def test_the_top_is_curated() -> None:
    """What an agent author needs: the memory, its inputs and results, the common errors;
    everything else is in a public submodule."""
    assert len(memory_core.__all__) <= 45
    assert {"SelfLearningMemory", "TaskContext", "QueryResult", "MemoryCoreError"} <= set(
        memory_core.__all__
    )


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_each_public_module_owns_its_names(module: str) -> None:
    """Each listed class or function exists and is shown under a public module that lists
    it (the submodule itself, or ``memory_core`` for a top-level name), and is found there."""
    mod = importlib.import_module(f"memory_core.{module}")
    assert len(mod.__all__) == len(set(mod.__all__))
    for name in mod.__all__:
        member = getattr(mod, name)
        if not (isinstance(member, type) or inspect.isfunction(member)):
            continue  # constants and type aliases (CacheKind) have no module of their own
        home = member.__module__
        assert not any(part.startswith("_") for part in home.split(".")), (name, home)
        assert getattr(importlib.import_module(home), name) is member, (name, home)
        if home == "memory_core":
            assert name in memory_core.__all__


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("Checkpoint", "workflow"),
        ("CacheError", "errors"),
        ("StorageStats", "models"),
        ("StorageBackend", "protocols"),
        ("load_plugin", "plugins"),
        ("Limits", "config"),
    ],
)
def test_a_name_that_moved_still_resolves_with_a_warning(name: str, module: str) -> None:
    with pytest.warns(DeprecationWarning, match=rf"memory_core\.{module}\.{name}"):
        moved = getattr(memory_core, name)
    assert moved is getattr(importlib.import_module(f"memory_core.{module}"), name)
    assert name not in memory_core.__all__


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        memory_core.Nope  # noqa: B018


def test_a_submodule_model_pickles_under_its_public_module() -> None:
    from memory_core.models import StorageStats

    stats = StorageStats(episodes=3)
    assert pickle.loads(pickle.dumps(stats)) == stats
    assert StorageStats.__module__ == "memory_core.models"
