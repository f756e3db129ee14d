"""The Jinja2 environment: templates shipped in the package, autoescaped, with filters
for the values every page shows (times, rates, rewards)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from memory_cli.ui import charts
from memory_cli.ui.explain import matched_words

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def _when(value: datetime | None, now: datetime | None = None) -> str:
    """``3 min ago`` for recent times, the date for older ones."""
    if value is None:
        return "—"
    now = now or datetime.now(UTC)
    seconds = (now - value).total_seconds()
    if seconds < 0:
        return value.strftime("%Y-%m-%d %H:%M")
    for unit, size in (("s", 1), ("min", 60), ("h", 3600), ("d", 86400)):
        if seconds < size * (60 if unit in ("s", "min") else 24 if unit == "h" else 7):
            return f"{int(seconds // size)} {unit} ago"
    return value.strftime("%Y-%m-%d")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a typo in a template fails the test, not the page
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, pct=_pct, num=_num, label=lambda v: str(v).replace("_", " "))
    env.globals.update(
        charts=charts, OUTCOME_COLOURS=charts.OUTCOME_COLOURS, matched_words=matched_words
    )
    return env


class Templates:
    """``render(request_context, name, **values)`` → an ``HTMLResponse``."""

    def __init__(self) -> None:
        self.env = build_environment()

    def render(self, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(**values)
        return HTMLResponse(html, status_code=status_code)
