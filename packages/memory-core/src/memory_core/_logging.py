"""Structured logging to stderr (stdout is the MCP protocol stream on stdio).

``configure_logging("INFO", "json")`` gives one JSON object per line; ``console`` gives
``time level logger message key=value``. Extra fields come from ``extra={"fields": {...}}``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

LOGGER_NAME = "memory_core"
logger = logging.getLogger(LOGGER_NAME)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class _ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {}) or {}
        tail = " ".join(f"{k}={v}" for k, v in fields.items())
        base = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} {record.name}: {record.getMessage()}"
        text = f"{base} {tail}" if tail else base
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(
    level: str = "INFO", fmt: str = "console", stream: TextIO | None = None
) -> None:
    """Route the ``memory_core`` and ``memory_*`` loggers to stderr in the given format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _ConsoleFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_memory_core", False):
            root.removeHandler(existing)
    handler._memory_core = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log a lifecycle event with structured fields (cheap when the level is off)."""
    if logger.isEnabledFor(level):
        logger.log(level, name, extra={"fields": fields})
