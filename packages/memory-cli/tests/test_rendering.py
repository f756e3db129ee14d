"""Rich output at 80 columns: the monitor view and the progress bar render cleanly."""

from __future__ import annotations

import io
import re

from memory_cli._monitor import make_frame, render_frame
from memory_cli._progress import make_progress, tracked
from memory_core import MetricsSnapshot
from memory_core.models import OperationMetrics
from rich.console import Console

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _console() -> Console:
    return Console(
        record=True, width=80, file=io.StringIO(), force_terminal=True, color_system="truecolor"
    )


def _snapshot(scale: int) -> MetricsSnapshot:
    ops = {
        name: OperationMetrics(
            count=100 * scale + i, errors=i, p50_ms=1.5 * i, p95_ms=12.25 * i, p99_ms=120.5 * i
        )
        for i, name in enumerate(
            [
                "start_episode",
                "log_steps",
                "complete_episode",
                "retrieve_relevant_context",
                "a_very_long_operation_name_that_does_not_fit_in_the_column",
            ],
            start=1,
        )
    }
    return MetricsSnapshot(
        operations=ops,
        cache={"hits": 90.0 * scale, "misses": 10.0 * scale, "hit_rate": 0.9},
        episodes=1000 * scale,
        completed_episodes=900 * scale,
        steps=12000 * scale,
        patterns=321,
        heuristics=12,
        queue_depth=7,
        uptime_seconds=3600.0,
    )


def _check(text: str) -> list[str]:
    assert "\x1b" not in text, "escape codes in exported text"
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), max(len(line) for line in lines)
    assert all(ch.isprintable() for line in lines for ch in line)
    return lines


def test_monitor_frame_renders_at_80_columns() -> None:
    frame = make_frame(_snapshot(2), _snapshot(1), elapsed=2.0)
    assert frame.op_rates["start_episode"] == 50.0
    assert frame.episodes_per_second == 500.0
    console = _console()
    console.print(render_frame(frame))
    raw = console.file.getvalue()  # type: ignore[attr-defined]
    assert ANSI.search(raw), "a terminal console should be styled"
    text = console.export_text()
    lines = _check(text)
    joined = "\n".join(lines)
    for needle in (
        "memory monitor",
        "ops/s",
        "cache hit",
        "90%",
        "queue",
        "7",
        "p95 ms",
        "retrieve_relevant_context",
        "Ctrl-C",
    ):
        assert needle in joined, needle
    assert lines[0].startswith("╭") and lines[-1].startswith("╰")


def test_first_frame_has_zero_rates() -> None:
    frame = make_frame(_snapshot(1), None, elapsed=0.0)
    assert frame.ops_per_second == 0.0 and frame.as_dict()["cache_hit_rate"] == 0.9
    console = _console()
    console.print(render_frame(make_frame(MetricsSnapshot(), None, 0.0)))
    _check(console.export_text())


def test_progress_bar_renders_at_80_columns() -> None:
    console = _console()
    progress = make_progress(console)
    task = progress.add_task("exporting", total=250)
    progress.update(task, completed=100)
    console.print(progress.get_renderable())
    progress.update(task, completed=250)
    console.print(progress.get_renderable())
    lines = [line for line in _check(console.export_text()) if line.strip()]
    assert len(lines) == 2
    assert "100/250" in lines[0] and "40%" in lines[0]
    assert "250/250" in lines[1] and "100%" in lines[1]
    assert all(line.startswith("exporting") for line in lines)


# What a live display may send besides text: colours, cursor up, erase line, hide/show cursor.
_KNOWN = re.compile(r"\x1b\[[0-9;]*m|\x1b\[\d*A|\x1b\[2K|\x1b\[\?25[lh]")


def test_live_progress_stream_has_only_known_control_codes() -> None:
    """The raw bytes a terminal gets while the bar advances: every escape sequence is a
    known one, and every line drawn fits in 80 columns."""
    console = _console()
    with tracked("importing", 5, console=console) as tracker:
        for _ in range(5):
            tracker.advance()
            tracker.progress.refresh()
    raw = console.file.getvalue()  # type: ignore[attr-defined]
    plain = _KNOWN.sub("", raw)
    assert "\x1b" not in plain, repr(plain[:200])
    segments = [seg for seg in re.split(r"[\r\n]", plain) if seg.strip()]
    assert segments and all(len(seg) <= 80 for seg in segments)
    assert "5/5" in segments[-1]


def test_progress_is_silent_when_not_a_terminal() -> None:
    console = Console(record=True, width=80, file=io.StringIO(), force_terminal=False)
    progress = make_progress(console)
    assert progress.disable
    with tracked("importing", 3, console=console) as tracker:
        tracker.advance(3)
    assert console.export_text() == ""
