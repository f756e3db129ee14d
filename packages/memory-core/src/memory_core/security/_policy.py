"""``RetentionPolicy``: how long a tenant's episodes are kept (a settings value).

A leaf module (pydantic only) so that ``MemoryConfig`` can use it without importing the
rest of the security package.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RetentionPolicy"]


class RetentionPolicy(BaseModel):
    """Which episodes of a tenant retention removes. Unset fields remove nothing.

    Ages count from ``completed_at`` (from ``started_at`` for unfinished episodes).
    ``successful_max_age_days`` lets successful episodes, the ones retrieval learns most
    from, outlive failures: they go only after that age instead of ``max_age_days``.
    ``max_episodes`` keeps the newest N completed episodes; of the older ones failures go
    before successes when ``keep_successful_longer`` is on. Unfinished episodes are only
    removed by ``abandoned_after_days`` (an agent may still be working on them).
    """

    model_config = ConfigDict(extra="forbid")

    max_age_days: float | None = Field(default=None, gt=0)
    successful_max_age_days: float | None = Field(default=None, gt=0)
    max_episodes: int | None = Field(default=None, ge=0)
    keep_successful_longer: bool = True
    abandoned_after_days: float | None = Field(default=None, gt=0)
