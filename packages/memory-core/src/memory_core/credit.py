"""Credit only what was used: did an episode's steps follow a shown pattern, and did it work?

A pattern merely *shown* for an episode says nothing about it; only its use does. Without
the agent saying which patterns it applied (``record_recommendation_feedback``), a shown
pattern is credited when the episode's steps follow it:

* ``tool_sequence``: its tools occur in the steps in order (repeats collapsed), within
  a window of at most ``FOLLOW_SLACK`` × its length steps (other steps may come in
  between, as many as its own; a long episode does not "follow" every short sequence
  whose tools it happens to use somewhere). It *worked* when the episode succeeded and
  no step failed from the last matched step on; a followed sequence whose own last step
  failed, even if a later attempt rescued the episode, is debited.
* ``decision_point`` / ``error_recovery``: its first tool is directly followed by its
  second; credited with the episode's outcome.
* ``context_pattern``: descriptive ("tasks like this use …"); never credited by itself.

``None`` means not used: no credit either way.
"""

from __future__ import annotations

import itertools

from memory_core._models import Episode, OutcomeType, Pattern, PatternKind

FOLLOW_SLACK = 2
"""A followed sequence's matched steps span at most this many times its length."""


def _followed(tools: list[str], used: list[str]) -> int | None:
    """Index of the last matched step of the first in-order match of ``tools`` in
    ``used`` within the window (repeats of a step collapse), else None."""
    keep = [i for i, t in enumerate(used) if i == 0 or used[i - 1] != t]
    window = FOLLOW_SLACK * len(tools)
    for k, start in enumerate(keep):
        if used[start] != tools[0]:
            continue
        j, last = 1, start
        for m in range(k + 1, min(len(keep), k + window)):
            if j == len(tools):
                break
            if used[keep[m]] == tools[j]:
                j, last = j + 1, keep[m]
        if j == len(tools):
            return last
    return None


def applied_outcome(pattern: Pattern, episode: Episode) -> bool | None:
    """True/False when ``episode`` followed ``pattern`` and it worked/failed, else None."""
    if episode.outcome is None or not pattern.tools:
        return None
    steps = episode.steps
    succeeded = episode.outcome.type is OutcomeType.SUCCESS
    if pattern.kind is PatternKind.TOOL_SEQUENCE:
        last = _followed(pattern.tools, [s.tool for s in steps])
        if last is None:
            return None
        return succeeded and all(s.ok for s in steps[last:])
    if pattern.kind in (PatternKind.DECISION_POINT, PatternKind.ERROR_RECOVERY):
        first, then = pattern.tools[0], pattern.tools[1] if len(pattern.tools) > 1 else None
        for a, b in itertools.pairwise(steps):
            if a.tool == first and (then is None or b.tool == then):
                return succeeded
        return None
    return None
