"""Input limits. Every limit is checked before anything is written, and the error names
the field and the limit, so a bad call never leaves a partial write behind."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Limits(BaseModel):
    """Upper bounds on what one call may store. Override per deployment via config."""

    model_config = ConfigDict(frozen=True)

    max_task_description_chars: int = Field(default=10_000, ge=1)
    max_text_chars: int = Field(default=100_000, ge=1, description="step output, verdict, reason")
    max_short_text_chars: int = Field(default=512, ge=1, description="tool, domain, tag, ...")
    max_action_chars: int = Field(default=10_000, ge=1)
    max_steps_per_episode: int = Field(default=10_000, ge=1)
    max_steps_per_call: int = Field(default=1_000, ge=1)
    max_parameters_bytes: int = Field(default=64 * 1024, ge=2)
    max_metadata_bytes: int = Field(default=64 * 1024, ge=2)
    max_tags: int = Field(default=32, ge=0)
    max_artifacts: int = Field(default=256, ge=0)
    max_json_depth: int = Field(default=32, ge=1)
    max_query_chars: int = Field(default=10_000, ge=1)
    max_limit: int = Field(default=1_000, ge=1, description="results per query or page")


DEFAULT_LIMITS = Limits()
