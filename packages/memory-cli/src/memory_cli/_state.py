"""Per-invocation state: global options, the effective config, the memory (lazy)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from memory_core import MemoryConfig, SelfLearningMemory

from memory_cli._output import OutputFormat

log = logging.getLogger("memory_cli")


@dataclass
class CliState:
    """What the root callback parsed; commands reach it through ``ctx.obj``.

    Nothing is opened here: ``config`` is loaded and ``memory`` built on first use, so
    ``memory config path`` works with a broken config and ``--help`` opens no database.
    """

    config_file: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    format: OutputFormat = OutputFormat.TABLE
    verbose: int = 0
    _config: MemoryConfig | None = None
    _memory: SelfLearningMemory | None = None

    @property
    def config(self) -> MemoryConfig:
        if self._config is None:
            self._config = MemoryConfig.load(self.config_file, **self.overrides)
        return self._config

    @property
    def memory(self) -> SelfLearningMemory:
        if self._memory is None:
            self._memory = SelfLearningMemory.from_config(self.config)
        return self._memory

    @property
    def memory_opened(self) -> bool:
        return self._memory is not None

    def close(self) -> None:
        """Close the memory; a failure here is logged, never turned into a traceback."""
        memory, self._memory = self._memory, None
        if memory is None:
            return
        try:
            memory.close()
        except Exception as exc:  # the command's result is already printed
            log.warning("closing the memory failed: %s", exc)


def get_state(ctx: typer.Context) -> CliState:
    obj = ctx.obj
    if not isinstance(obj, CliState):  # a command invoked outside the root app
        obj = CliState()
        ctx.obj = obj
    return obj
