"""Charts as inline SVG, drawn on the server: no JavaScript, no chart library.

Every chart scales with its container (``viewBox`` and ``width: 100%``), carries a
``<title>`` and an ``aria-label`` for screen readers, and the page shows the same numbers
in a table next to it, so nothing is only visible as a picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 40, 10, 10, 28

OUTCOME_COLOURS = {
    "success": "#1b7f3b",
    "partial_success": "#b36b00",
    "failure": "#b3261e",
    "in_progress": "#5f6b7a",
}


def _svg(
    label: str, body: str, width: int = WIDTH, height: int = HEIGHT, css: str = "chart"
) -> Markup:
    text = escape(label)
    return Markup(
        f'<svg class="{css}" viewBox="0 0 {width} {height}" role="img" aria-label="{text}"'
        f' preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{text}</title>{body}</svg>"
    )


def _axes(y_max: float, y_format: str) -> str:
    """The frame and three horizontal grid lines with their values."""
    parts = []
    inner = HEIGHT - PAD_TOP - PAD_BOTTOM
    for i in range(3):
        frac = i / 2
        y = PAD_TOP + inner * (1 - frac)
        value = y_max * frac
        label = format(value, y_format)
        parts.append(
            f'<line x1="{PAD_LEFT}" y1="{y:.1f}" x2="{WIDTH - PAD_RIGHT}" y2="{y:.1f}"'
            f' class="grid"/><text x="{PAD_LEFT - 4}" y="{y + 4:.1f}" class="tick"'
            f' text-anchor="end">{escape(label)}</text>'
        )
    return "".join(parts)


def _x_labels(labels: Sequence[str], step: float, offset: float) -> str:
    """At most ~8 labels along the bottom, so they never overlap."""
    if not labels:
        return ""
    every = max(1, -(-len(labels) // 8))
    parts = []
    for i in range(0, len(labels), every):
        x = PAD_LEFT + offset + i * step
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 8}" class="tick" text-anchor="middle">'
            f"{escape(labels[i])}</text>"
        )
    return "".join(parts)


def stacked_bars(
    label: str, labels: Sequence[str], series: dict[str, Sequence[int]], empty: str = "no data"
) -> Markup:
    """One bar per label, stacked by series (e.g. episodes per day by outcome)."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = max(totals, default=0)
    if top <= 0:
        return _svg(label, _empty(empty))
    y_max = float(top + top % 2)  # even, so the middle grid line is a whole number
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    step = inner_w / len(labels)
    bar = max(1.0, step * 0.8)
    parts = [_axes(y_max, ".0f")]
    for i, day in enumerate(labels):
        y = float(PAD_TOP + inner_h)
        for name, values in series.items():
            h = inner_h * values[i] / y_max
            if h <= 0:
                continue
            y -= h
            colour = OUTCOME_COLOURS.get(name, "#33658a")
            parts.append(
                f'<rect x="{PAD_LEFT + i * step + (step - bar) / 2:.1f}" y="{y:.1f}"'
                f' width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(day)} {escape(name)}: {values[i]}</title></rect>"
            )
    parts.append(_x_labels(labels, step, step / 2))
    return _svg(label, "".join(parts))


def line(
    label: str, labels: Sequence[str], values: Sequence[float | None], empty: str = "no data"
) -> Markup:
    """A 0..1 line (e.g. success rate per day); None values are gaps, not zeros."""
    if not any(v is not None for v in values):
        return _svg(label, _empty(empty))
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    step = inner_w / max(1, len(values) - 1) if len(values) > 1 else 0.0
    offset = 0.0 if len(values) > 1 else inner_w / 2
    parts = [_axes(1.0, ".0%")]
    segment: list[str] = []
    segments: list[list[str]] = []
    dots = []
    for i, v in enumerate(values):
        if v is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        x = PAD_LEFT + offset + i * step
        y = PAD_TOP + inner_h * (1 - v)
        segment.append(f"{x:.1f},{y:.1f}")
        dots.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" class="dot">'
            f"<title>{escape(labels[i])}: {v:.0%}</title></circle>"
        )
    if segment:
        segments.append(segment)
    for seg in segments:
        parts.append(f'<polyline points="{" ".join(seg)}" class="series"/>')
    parts.extend(dots)
    parts.append(_x_labels(labels, step, offset))
    return _svg(label, "".join(parts))


def histogram(
    label: str, values: Sequence[float], bins: int = 10, empty: str = "no data"
) -> Markup:
    """Counts of 0..1 values in equal bins (e.g. pattern effectiveness)."""
    if not values:
        return _svg(label, _empty(empty))
    counts = histogram_counts(values, bins)
    names = [f"{i / bins:.1f}" for i in range(bins)]
    return stacked_bars(label, names, {"count": counts}, empty)


def histogram_counts(values: Sequence[float], bins: int = 10) -> list[int]:
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int(v * bins)))] += 1
    return counts


def split_bar(label: str, parts: dict[str, float], colours: dict[str, str]) -> Markup:
    """One horizontal bar split in proportion (e.g. cache hits against misses)."""
    total = sum(parts.values())
    height = 56
    if total <= 0:
        return _svg(label, _empty("nothing recorded yet", height), height=height)
    x = 0.0
    body = []
    for name, value in parts.items():
        w = WIDTH * value / total
        if w > 0:
            body.append(
                f'<rect x="{x:.1f}" y="8" width="{w:.1f}" height="24"'
                f' fill="{colours.get(name, "#33658a")}"><title>{escape(name)}: {value:g}'
                f" ({value / total:.0%})</title></rect>"
            )
            if w > 60:
                body.append(
                    f'<text x="{x + 6:.1f}" y="25" class="onbar">{escape(name)}'
                    f" {value / total:.0%}</text>"
                )
        x += w
    return _svg(label, "".join(body), height=height)


def sparkline(label: str, values: Sequence[float]) -> Markup:
    """A small 0..1 trend line for a table cell."""
    width, height = 100, 24
    if len(values) < 2:
        return Markup("")
    step = width / (len(values) - 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (height - 4) * max(0.0, min(1.0, v)):.1f}"
        for i, v in enumerate(values)
    )
    return _svg(
        label,
        f'<polyline points="{points}" class="series"/>',
        width=width,
        height=height,
        css="spark",
    )


def _empty(text: str, height: int = HEIGHT) -> str:
    return (
        f'<text x="{WIDTH / 2}" y="{height / 2}" class="empty" text-anchor="middle">'
        f"{escape(text)}</text>"
    )
