"""An episode's stored JSON, readable by the previous release during a rolling update.

Why: releases run side by side on one database (``tests/deploy/test_rollout.py``), and the
previous release's models refuse fields they do not know (``extra="forbid"``). Reward
fields added since schema 4 (inferred complexity, redundant and reference steps, flags)
are therefore stored in the episode's ``metadata`` under ``STASH`` — a place every
release accepts — and put back into the reward when read.
"""

from __future__ import annotations

import json

from memory_core import Episode, RewardScore

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
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def load_episode(stored: str | bytes) -> Episode:
    """The episode as ``dump_episode`` (or an older release) wrote it: one fast JSON
    parse (the stash is plain metadata, the newer reward fields have defaults), then the
    stashed fields put back."""
    episode = Episode.model_validate_json(stored)
    newer = episode.metadata.pop(STASH, None)
    if isinstance(newer, dict) and episode.reward is not None:
        episode.reward = RewardScore.model_validate({**episode.reward.model_dump(), **newer})
    return episode
