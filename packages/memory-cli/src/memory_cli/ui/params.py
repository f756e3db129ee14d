"""Query parameters of the pages: known names only, typed, and errors that name the field.

A page declares which parameters it takes; anything else (a typo such as ``outcom=``) is
refused rather than silently ignored, because an ignored filter shows the wrong data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from memory_core import EpisodeFilter, InvalidInputError, OutcomeType, PatternKind, TaskType
from starlette.datastructures import QueryParams

from memory_cli._parsing import parse_when

E = TypeVar("E", bound=StrEnum)


class ParamError(Exception):
    """A bad query parameter; ``field`` is its name as it appears in the URL."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_known(params: QueryParams, allowed: Iterable[str]) -> None:
    known = set(allowed)
    for name in params:
        if name not in known:
            raise ParamError(
                name, f"unknown parameter; this page takes {', '.join(sorted(known)) or 'none'}"
            )


def _one(params: QueryParams, name: str, max_chars: int = 512) -> str | None:
    values = [v for v in params.getlist(name) if v.strip()]
    if len(values) > 1:
        raise ParamError(name, "give it once")
    if not values:
        return None
    if len(values[0]) > max_chars:
        raise ParamError(name, f"at most {max_chars} characters")
    return values[0].strip()


def _enum(params: QueryParams, name: str, kind: type[E]) -> E | None:
    value = _one(params, name)
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise ParamError(name, f"{value!r} is not one of {choices}") from None


def _when(params: QueryParams, name: str) -> datetime | None:
    try:
        return parse_when(_one(params, name), name)
    except InvalidInputError as exc:
        raise ParamError(name, str(exc).removeprefix(f"{name}: ")) from None


def int_param(params: QueryParams, name: str, default: int, low: int, high: int) -> int:
    value = _one(params, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ParamError(name, f"expected a whole number; got {value!r}") from None
    if not low <= number <= high:
        raise ParamError(name, f"must be between {low} and {high}; got {number}")
    return number


def text_param(params: QueryParams, name: str, max_chars: int = 512) -> str | None:
    return _one(params, name, max_chars)


@dataclass(frozen=True)
class SearchParams:
    """``/search``: the query text and the episode filters of ``memory query``."""

    q: str | None = None
    domain: str | None = None
    task_type: TaskType | None = None
    outcome: OutcomeType | None = None
    tags: list[str] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 10
    raw: dict[str, str] = field(default_factory=dict)

    NAMES = ("q", "domain", "type", "outcome", "tag", "since", "until", "limit")

    @classmethod
    def parse(cls, params: QueryParams, max_query_chars: int) -> SearchParams:
        check_known(params, cls.NAMES)
        since, until = _when(params, "since"), _when(params, "until")
        if since is not None and until is not None and since >= until:
            raise ParamError("until", "must be later than since")
        tags = [t.strip() for t in params.getlist("tag") for t in t.split(",") if t.strip()]
        if len(tags) > 32:
            raise ParamError("tag", "at most 32 tags")
        return cls(
            q=_one(params, "q", max_query_chars),
            domain=_one(params, "domain"),
            task_type=_enum(params, "type", TaskType),
            outcome=_enum(params, "outcome", OutcomeType),
            tags=tags,
            since=since,
            until=until,
            limit=int_param(params, "limit", 10, 1, 100),
            raw={k: params[k] for k in cls.NAMES if params.get(k, "").strip() and k != "tag"}
            | ({"tag": ", ".join(tags)} if tags else {}),
        )

    def filters(self) -> EpisodeFilter:
        return EpisodeFilter(
            domain=self.domain,
            task_type=self.task_type,
            outcome=self.outcome,
            tags=self.tags,
            since=self.since,
            until=self.until,
        )

    def filter_kwargs(self) -> dict[str, object]:
        f = self.filters()
        return {k: getattr(f, k) for k in f.model_fields_set if getattr(f, k)}


@dataclass(frozen=True)
class PatternParams:
    """``/patterns``: kind and domain filters, how many to list."""

    kind: PatternKind | None = None
    domain: str | None = None
    limit: int = 50

    NAMES = ("kind", "domain", "limit")

    @classmethod
    def parse(cls, params: QueryParams) -> PatternParams:
        check_known(params, cls.NAMES)
        return cls(
            kind=_enum(params, "kind", PatternKind),
            domain=_one(params, "domain"),
            limit=int_param(params, "limit", 50, 1, 500),
        )
