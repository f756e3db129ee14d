"""``memory_core.__all__`` is the public surface: every name exists, is shown as
``memory_core.X``, and nothing public is left out of it by accident."""

from __future__ import annotations

import pickle

import memory_core


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
