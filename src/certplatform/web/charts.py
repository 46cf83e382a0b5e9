"""Server-rendered SVG charts: a few dozen lines instead of a chart library, no script.

Each chart is an image with a text alternative (its <title>); the page puts the numbers in
a table beside it for screen readers and for anyone who wants them. Colours come from the
page's custom properties (CSS classes in app.css), so the dark theme applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count

from markupsafe import Markup, escape

WIDTH, HEIGHT = 600, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 14, 30
_ids = count(1)


def _frame(title: str, body: str, y_max_label: str, first: str, last: str) -> Markup:
    cid = f"chart-{next(_ids)}"
    plot_bottom = HEIGHT - BOTTOM
    # Every text in it is escaped above; the rest are numbers and fixed names.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{cid}" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{cid}">{escape(title)}</title>'
        f'<line class="axis" x1="{LEFT}" y1="{plot_bottom}" x2="{WIDTH - RIGHT}" '
        f'y2="{plot_bottom}"/>'
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + 12}" text-anchor="end">'
        f"{escape(y_max_label)}</text>"
        f'<text class="tick" x="{LEFT - 6}" y="{plot_bottom}" text-anchor="end">0</text>'
        f"{body}"
        f'<text class="tick" x="{LEFT}" y="{HEIGHT - 6}">{escape(first)}</text>'
        f'<text class="tick" x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" text-anchor="end">'
        f"{escape(last)}</text></svg>"
    )


def bars(
    title: str, labels: Sequence[str], values: Sequence[float], *, highlight: int | None = None
) -> Markup:
    """A bar per value (answers a day, cards due a day)."""
    top = max([*values, 1])
    width = (WIDTH - LEFT - RIGHT) / max(len(values), 1)
    plot = HEIGHT - TOP - BOTTOM
    parts = []
    for i, v in enumerate(values):
        h = plot * v / top
        cls = "bar hi" if i == highlight else "bar"
        parts.append(
            f'<rect class="{cls}" x="{LEFT + i * width + width * 0.15:.1f}" '
            f'y="{HEIGHT - BOTTOM - h:.1f}" width="{width * 0.7:.1f}" height="{h:.1f}"/>'
        )
    return _frame(
        title, "".join(parts), _num(top), labels[0] if labels else "", labels[-1] if labels else ""
    )


def line(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    top: float = 100,
    guide: float | None = None,
) -> Markup:
    """Points joined by a line on a 0..`top` scale (scores, accuracy); None leaves a gap.
    `guide` draws a dashed line (the pass mark)."""
    n = len(values)
    plot = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / max(n - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = LEFT + (i * step if n > 1 else (WIDTH - LEFT - RIGHT) / 2)
        return x, HEIGHT - BOTTOM - plot * min(max(v, 0), top) / top

    parts = []
    if guide is not None:
        _, gy = xy(0, guide)
        parts.append(
            f'<line class="guide" x1="{LEFT}" y1="{gy:.1f}" x2="{WIDTH - RIGHT}" y2="{gy:.1f}"/>'
        )
    run: list[str] = []
    for i, v in enumerate(values):
        if v is None:
            if len(run) > 1:
                parts.append(f'<polyline class="series" points="{" ".join(run)}"/>')
            run = []
            continue
        x, y = xy(i, v)
        run.append(f"{x:.1f},{y:.1f}")
        parts.append(f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="4"/>')
    if len(run) > 1:
        parts.append(f'<polyline class="series" points="{" ".join(run)}"/>')
    return _frame(
        title, "".join(parts), _num(top), labels[0] if labels else "", labels[-1] if labels else ""
    )


def _num(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
