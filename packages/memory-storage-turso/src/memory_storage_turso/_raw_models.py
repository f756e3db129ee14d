"""Building the read path's models without pydantic's generic construction.

Why: a query decodes and copies dozens of summaries and patterns; ``model_construct`` and
``model_copy`` check aliases, defaults, extra and private attributes per field, which
cost about as much as the cache lookup itself. These models have neither extra nor
private attributes (checked here, at import), so setting the instance's state directly
builds the same object.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from typing import TypeVar
from uuid import UUID

from memory_core import EpisodeSummary, Pattern, TaskContext
from memory_core.models import SearchHit
from pydantic import BaseModel

__all__ = ["built", "copied", "search_hits"]

_M = TypeVar("_M", bound=BaseModel)
_set = object.__setattr__

for _model in (Pattern, EpisodeSummary, TaskContext):  # what ``built`` relies on
    if _model.__private_attributes__ or _model.model_config.get("extra") == "allow":
        raise TypeError(f"{_model.__name__} has private or extra attributes: see _raw_models")


def built(cls: type[_M], fields: dict[str, object], fields_set: set[str]) -> _M:
    """An instance of ``cls`` holding ``fields`` (already valid), ``fields_set`` set."""
    model = object.__new__(cls)
    _set(model, "__dict__", fields)
    _set(model, "__pydantic_fields_set__", fields_set)
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


def copied(model: _M, **fields: object) -> _M:
    """``model.model_copy(update=fields)``; the fields replaced keep their place in the
    set ones (these models are decoded or built with every field set)."""
    return built(type(model), {**model.__dict__, **fields}, set(model.__pydantic_fields_set__))


# SearchHit is a frozen dataclass with slots: its __init__ sets each field through
# object.__setattr__ (the frozen guard), ~1.6 us a hit; the slots' own descriptors set the
# same fields in ~1 us. A query builds ~400 (200 per channel).
if tuple(f.name for f in fields(SearchHit)) != ("episode_id", "item", "score", "terms") or (
    getattr(SearchHit, "__slots__", None) is None
):
    raise TypeError("SearchHit's fields or slots changed: see _raw_models.search_hits")
_set_id, _set_item, _set_score, _set_terms = (
    SearchHit.__dict__[name].__set__ for name in ("episode_id", "item", "score", "terms")
)
_new = object.__new__


def search_hits(rows: Iterable[tuple[UUID, int, float, tuple[str, ...]]]) -> list[SearchHit]:
    """``[SearchHit(*row) for row in rows]``, each field set by its slot."""
    out: list[SearchHit] = []
    append = out.append
    for episode_id, item, score, terms in rows:
        hit = _new(SearchHit)
        _set_id(hit, episode_id)
        _set_item(hit, item)
        _set_score(hit, score)
        _set_terms(hit, terms)
        append(hit)
    return out
