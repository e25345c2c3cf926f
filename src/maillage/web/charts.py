"""A measurement series as a small inline SVG line chart, drawn on the server.

Hand-made rather than matplotlib: a polyline and a few labels are a few hundred bytes, need no
font or image round trip, and obey the pages' CSP (no script, no external file).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

WIDTH, HEIGHT, MARGIN = 640, 220, 48


@dataclass(frozen=True)
class Point:
    """One measurement: when (any offset) and its value."""

    at: datetime
    value: float


def _label(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")


def line_chart(title: str, unit: str, points: list[Point], chart_id: str) -> Markup:
    """An accessible SVG (role img, title and description) of ``points`` in time order."""
    if not points:
        return Markup("")
    low, high = min(p.value for p in points), max(p.value for p in points)
    first, last = points[0].at.timestamp(), points[-1].at.timestamp()
    span_v, span_t = (high - low) or 1.0, (last - first) or 1.0
    inner_w, inner_h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN

    def xy(point: Point) -> tuple[float, float]:
        x = MARGIN + (point.at.timestamp() - first) / span_t * inner_w
        y = MARGIN + (high - point.value) / span_v * inner_h
        return round(x, 1), round(y, 1)

    coords = [xy(p) for p in points]
    line = " ".join(f"{x},{y}" for x, y in coords)
    dots = "".join(f'<circle cx="{x}" cy="{y}" r="3"/>' for x, y in coords)
    summary = (
        f"{len(points)} mesures du {points[0].at:%d/%m/%Y} au {points[-1].at:%d/%m/%Y}, "
        f"de {_label(low)} à {_label(high)} {unit}; dernière : {_label(points[-1].value)} {unit}."
    )
    svg = (
        f'<svg class="courbe" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(summary)}</desc>'
        f'<line x1="{MARGIN}" y1="{HEIGHT - MARGIN}" x2="{WIDTH - MARGIN}" '
        f'y2="{HEIGHT - MARGIN}" class="axe"/>'
        f'<text x="4" y="{MARGIN + 4}">{_label(high)}</text>'
        f'<text x="4" y="{HEIGHT - MARGIN + 4}">{_label(low)}</text>'
        f'<text x="{MARGIN}" y="{HEIGHT - 12}">{points[0].at:%d/%m}</text>'
        f'<text x="{WIDTH - MARGIN}" y="{HEIGHT - 12}" text-anchor="end">'
        f"{points[-1].at:%d/%m}</text>"
        f'<polyline points="{line}"/>{dots}</svg>'
    )
    return Markup(svg)
