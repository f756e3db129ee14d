"""An episode's stored JSON, readable by the previous release during a rolling update.

Why: releases run side by side on one database (``tests/deploy/test_rollout.py``), and the
previous release's models refuse fields they do not know (``extra="forbid"``). Reward
fields added since schema 4 (inferred complexity, redundant and reference steps, flags)
are therefore stored in the episode's ``metadata`` under ``STASH`` — a place every
release accepts — and put back into the reward when read.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from memory_core import (
    Episode,
    EpisodeStatus,
    EpisodeSummary,
    InvalidInputError,
    OutcomeType,
    RewardScore,
    TaskContext,
    TaskType,
)
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticSerializationError, to_json

from memory_storage_turso._raw_models import built

STASH = "selfmem:reward"
"""Metadata key holding the reward fields the schema-4 release does not know."""

_SCHEMA4_REWARD = frozenset(
    {"total", "base", "efficiency", "complexity_bonus", "error_recovery_bonus", "quality"}
)


def dump_episode(episode: Episode) -> str:
    """The episode without its steps (they have their own rows), as stored."""
    data = episode.model_dump(mode="json", exclude={"steps"})
    reward = data.get("reward")
    if reward:
        newer = {k: reward.pop(k) for k in list(reward) if k not in _SCHEMA4_REWARD}
        if newer:
            data["metadata"] = {**(data.get("metadata") or {}), STASH: newer}
    # pydantic-core's encoder: the same compact JSON as ``json.dumps(data,
    # separators=(",", ":"), ensure_ascii=False)``, in about half the time (a bulk import
    # writes thousands per second).
    try:
        return to_json(data).decode()
    except PydanticSerializationError:
        raise _unencodable(data) from None


def _unencodable(data: object) -> InvalidInputError:
    """The error for a text that UTF-8 cannot hold (an unpaired surrogate, e.g. from a
    bad decode upstream), naming the first such field."""
    return InvalidInputError(
        "text contains an unpaired surrogate (not valid Unicode); decode the input with "
        "errors='replace' first",
        field=_bad_text(data, ""),
    )


def _bad_text(data: object, path: str) -> str | None:
    """The dotted path of the first string in ``data`` that is not valid UTF-8."""
    if isinstance(data, str):
        try:
            data.encode()
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(data, dict):
        pairs: list[tuple[str, object]] = [
            (f"{path}.{k}" if path else str(k), v) for k, v in data.items()
        ]
    elif isinstance(data, list):
        pairs = [(f"{path}[{i}]", v) for i, v in enumerate(data)]
    else:
        return None
    for inner, value in pairs:
        found = _bad_text(value, inner)
        if found is not None:
            return found
    return None


def load_episode(stored: str | bytes) -> Episode:
    """The episode as ``dump_episode`` (or an older release) wrote it: one fast JSON
    parse (the stash is plain metadata, the newer reward fields have defaults), then the
    stashed fields put back."""
    episode = Episode.model_validate_json(stored)
    newer = episode.metadata.pop(STASH, None)
    if isinstance(newer, dict) and episode.reward is not None:
        episode.reward = RewardScore.model_validate({**episode.reward.model_dump(), **newer})
    return episode


_SCHEMA_VERSION = EpisodeSummary.model_fields["schema_version"].default
_SET_FIELDS = set(EpisodeSummary.model_fields) - {"schema_version"}
"""The fields ``load_summary`` sets (``schema_version`` is the default, as
``model_construct`` leaves it)."""


class _Fields(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Outcome(_Fields):
    type: OutcomeType
    verdict: str = ""


class _Reward(_Fields):
    total: float
    quality: float = Field(ge=0.0, le=1.0)


class _Summarised(_Fields):
    """The fields of a stored episode that its summary shows, with ``Episode``'s types
    and defaults; the rest of the JSON (reflection, metadata, the full outcome and
    reward) is skipped, not validated."""

    id: UUID
    tenant: str = "default"
    task_description: str
    task_type: TaskType = TaskType.OTHER
    context: TaskContext = Field(default_factory=TaskContext)
    outcome: _Outcome | None = None
    reward: _Reward | None = None
    pattern_ids: list[UUID] = Field(default_factory=list)
    started_at: datetime
    completed_at: datetime | None = None
    version: int = Field(default=1, ge=1)


def load_summary(stored: str | bytes, step_count: int) -> EpisodeSummary:
    """``load_episode(stored).summary()`` with ``step_count``, without building the
    episode: lists and every query read dozens of summaries, and a whole ``Episode`` (its
    reward, reflection, metadata) costs several times the fields a summary shows."""
    e = _Summarised.model_validate_json(stored)
    outcome, reward = e.outcome, e.reward
    fields = {
        "schema_version": _SCHEMA_VERSION,
        "id": e.id,
        "tenant": e.tenant,
        "task_description": e.task_description,
        "task_type": e.task_type,
        "context": e.context,
        "status": EpisodeStatus.COMPLETED if outcome is not None else EpisodeStatus.IN_PROGRESS,
        "outcome": outcome.type if outcome is not None else None,
        "verdict": outcome.verdict if outcome is not None else None,
        "reward": reward.total if reward is not None else None,
        "quality": reward.quality if reward is not None else None,
        "step_count": step_count,
        "pattern_ids": e.pattern_ids,
        "started_at": e.started_at,
        "completed_at": e.completed_at,
        "version": e.version,
    }
    # What ``EpisodeSummary.model_construct(**fields but schema_version)`` builds, without
    # its per-field alias and default lookups (a third of a summary's decoding).
    return built(EpisodeSummary, fields, _SET_FIELDS.copy())
