"""Repeated episodes collapse into one hit.

Agents repeat themselves: the same "fix the flaky network test again" episode, step for
step, recorded five times, would fill a result list with one lesson. Two rules:

* episodes whose task texts are equal after normalisation (case, punctuation and
  spacing ignored) never both appear: the best-scored one stands for the group;
* those of them that are also (near-)identical in their steps — the same outcome, the
  same step count, and at least ``STEP_OVERLAP`` of their normalised step texts shared
  (numbers ignored: durations, counts and ports differ between runs) — are counted in
  the hit, which says how many episodes it stands for and when the last one began.

Steps are read only for groups of two or more (rare), and at most ``COMPARED_STEPS`` each.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from uuid import UUID

from memory_core._fetch import fetch_steps
from memory_core._models import EpisodeSummary, ExecutionStep
from memory_core._protocols import EpisodeStore

__all__ = ["Repeats", "collapse", "normalised_task"]

STEP_OVERLAP = 0.8
COMPARED_STEPS = 20
_WORD = re.compile(r"[^\W_]+")
_DIGITS = re.compile(r"\d+")


def _words(text: str) -> list[str]:
    if text.isascii():  # nothing to decompose or strip: each query folds dozens of texts
        return _WORD.findall(text.lower())
    folded = unicodedata.normalize("NFKD", text).lower()
    return _WORD.findall("".join(c for c in folded if not unicodedata.combining(c)))


@lru_cache(maxsize=8192)  # every query folds its pool's task texts, the same ones again
def normalised_task(text: str) -> str:
    """Task text without case, punctuation or spacing differences."""
    return " ".join(_words(text))


def _step_key(step: ExecutionStep) -> str:
    return _DIGITS.sub("0", " ".join(_words(step.search_text())))


@dataclass(frozen=True)
class Repeats:
    """How many episodes one hit stands for, and when the last of them began."""

    count: int
    last_at: datetime


def _same_steps(a: list[ExecutionStep], b: list[ExecutionStep]) -> bool:
    ka, kb = {_step_key(s) for s in a}, {_step_key(s) for s in b}
    if not ka and not kb:
        return True
    return len(ka & kb) / len(ka | kb) >= STEP_OVERLAP


def collapse(
    storage: EpisodeStore, tenant: str, scored: list[tuple[float, EpisodeSummary]]
) -> tuple[list[tuple[float, EpisodeSummary]], dict[UUID, Repeats]]:
    """``scored`` (best first) with one episode per normalised task text, and for each
    kept episode that stands for repeats, their count and latest start."""
    groups: dict[str, list[tuple[float, EpisodeSummary]]] = {}
    for item in scored:
        groups.setdefault(normalised_task(item[1].task_description), []).append(item)
    kept = [members[0] for members in groups.values()]
    kept.sort(key=lambda x: -x[0])
    repeated = [m for m in groups.values() if len(m) > 1]
    if not repeated:
        return kept, {}
    wanted: list[tuple[UUID, list[int]]] = []
    for members in repeated:
        head = members[0][1]
        for _, s in members:
            if s.step_count == head.step_count and s.outcome == head.outcome:
                wanted.append((s.id, list(range(1, min(s.step_count, COMPARED_STEPS) + 1))))
    steps = fetch_steps(storage, tenant, wanted)
    out: dict[UUID, Repeats] = {}
    for members in repeated:
        head = members[0][1]
        mine = steps.get(head.id, [])
        same = [
            s
            for _, s in members
            if s.step_count == head.step_count
            and s.outcome == head.outcome
            and _same_steps(mine, steps.get(s.id, []))
        ]
        if len(same) > 1:
            out[head.id] = Repeats(len(same), max(s.started_at for s in same))
    return kept, out
