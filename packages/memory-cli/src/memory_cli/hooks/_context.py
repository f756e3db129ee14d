"""What a hook puts in front of the agent before it works: relevant past episodes, their
key steps and the playbook for the task, within a token budget, or nothing at all.

Nothing is better than noise: an episode is shown only when it passes the relevance
floor, and the playbook only when at least one episode did (patterns from irrelevant
evidence are not advice). Tokens are counted as characters / 4.

The two parts are asked for separately because a prompt's hook call waits for them only
a few milliseconds: the episodes (one retrieval, ``retrieve_relevant_context``, which
ranks no patterns) are answered first, the playbook (a second pass over patterns and
heuristics) follows when it is ready (``_server``).
"""

from __future__ import annotations

import os
from uuid import UUID

from memory_core import RetrievedEpisode, SelfLearningMemory, TaskContext
from memory_core.text import terms
from memory_core.workflow import Playbook

DEFAULT_TOKENS = 600
EPISODES = 3
STEPS_PER_EPISODE = 3
PLAYBOOK_STEPS = 5
HEADER = "Relevant past work from memory (outcomes of hook-recorded sessions are inferred):"


def token_budget() -> int:
    """``MEMORY_HOOK_CONTEXT_TOKENS``; 0 turns the context off."""
    raw = os.environ.get("MEMORY_HOOK_CONTEXT_TOKENS", "")
    try:
        return max(0, int(raw)) if raw else DEFAULT_TOKENS
    except ValueError:
        return DEFAULT_TOKENS


def episodes_for(memory: SelfLearningMemory, prompt: str, project: str) -> list[RetrievedEpisode]:
    """The completed episodes relevant to ``prompt`` (above the calibrated floor), best
    first; none when the context is turned off or the prompt has no searchable term."""
    if token_budget() <= 0 or not terms(prompt):
        return []
    hits = memory.retrieve_relevant_context(
        prompt,
        TaskContext(domain=project),
        EPISODES,
        max_steps_per_episode=STEPS_PER_EPISODE,
        status="completed",  # an open episode (this session's own) is not past work
    )
    return hits[:EPISODES]


def playbook_for(
    memory: SelfLearningMemory, prompt: str, project: str, episode_id: UUID | None
) -> Playbook:
    """The playbook for ``prompt``, remembered for ``episode_id`` (so that its patterns
    learn from the episode's outcome)."""
    return memory.recommend_playbook(
        prompt, TaskContext(domain=project), PLAYBOOK_STEPS, for_episode=episode_id
    )


def _episode_lines(n: int, hit: RetrievedEpisode) -> list[str]:
    e = hit.episode
    outcome = e.outcome.value if e.outcome else "in progress"
    when = e.started_at.date().isoformat()
    lines = [f"{n}. [{outcome}] {e.task_description[:200]} ({e.context.domain}, {when})"]
    if e.verdict:
        lines.append(f"   outcome: {e.verdict[:200]}")
    for s in hit.steps[:STEPS_PER_EPISODE]:
        result = ""
        if s.result is not None and not s.result.ok:
            result = f" → failed: {(s.result.message or '')[:120]}"
        lines.append(f"   - {s.tool}: {s.action[:160]}{result}")
    return lines


def render(
    hits: list[RetrievedEpisode], playbook: Playbook | None, budget_tokens: int | None = None
) -> str:
    """The additionalContext text: the episodes, then the playbook's steps and warnings
    while they fit the budget; ``""`` without episodes."""
    budget = (token_budget() if budget_tokens is None else budget_tokens) * 4
    if budget <= 0 or not hits:
        return ""
    out = [HEADER]
    used = len(HEADER)
    for block in (_episode_lines(i, h) for i, h in enumerate(hits, start=1)):
        size = sum(len(line) + 1 for line in block)
        if used + size > budget:
            if len(out) == 1:  # always show the best episode's first line
                out.append(block[0][: max(0, budget - used - 1)])
            break
        out.extend(block)
        used += size
    if playbook is not None:
        plan = [
            f"{s.order}. {s.tool}: {s.action[:160]} ({s.success_rate:.0%} of {s.support})"
            for s in playbook.steps
        ]
        warnings = [f"- {w[:200]}" for w in playbook.warnings[:2]]
        for title, lines in (("Playbook for this task:", plan), ("Watch out:", warnings)):
            section = [title]
            for line in lines:
                if used + sum(len(x) + 1 for x in [*section, line]) > budget:
                    break
                section.append(line)
            if len(section) > 1:
                out.extend(section)
                used += sum(len(x) + 1 for x in section)
    return "\n".join(out)


def build_context(
    memory: SelfLearningMemory,
    prompt: str,
    project: str,
    *,
    episode_id: UUID | None = None,
    budget_tokens: int | None = None,
) -> str:
    """The whole additionalContext for ``prompt`` at once, or ``""`` when nothing
    relevant is known."""
    hits = episodes_for(memory, prompt, project)
    if not hits:
        return ""
    return render(hits, playbook_for(memory, prompt, project, episode_id), budget_tokens)
