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


def line_chart(
    title: str, unit: str, points: list[Point], chart_id: str, thresholds: tuple[float, ...] = ()
) -> Markup:
    """An accessible SVG (role img, title and description) of ``points`` in time order, with
    the alert ``thresholds`` as dashed horizontal lines."""
    if not points:
        return Markup("")
    values = [p.value for p in points]
    low, high = min(*values, *thresholds), max(*values, *thresholds)
    first, last = points[0].at.timestamp(), points[-1].at.timestamp()
    span_v, span_t = (high - low) or 1.0, (last - first) or 1.0
    inner_w, inner_h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN

    def xy(point: Point) -> tuple[float, float]:
        x = MARGIN + (point.at.timestamp() - first) / span_t * inner_w
        y = MARGIN + (high - point.value) / span_v * inner_h
        return round(x, 1), round(y, 1)

    coords = [xy(p) for p in points]
    heights = [(value, xy(Point(points[0].at, value))[1]) for value in thresholds]
    limits = "".join(
        f'<line x1="{MARGIN}" y1="{y}" x2="{WIDTH - MARGIN}" y2="{y}" class="seuil"/>'
        f'<text x="{WIDTH - MARGIN}" y="{y - 4}" text-anchor="end">seuil {_label(value)}</text>'
        for value, y in heights
    )
    line = " ".join(f"{x},{y}" for x, y in coords)
    dots = "".join(f'<circle cx="{x}" cy="{y}" r="3"/>' for x, y in coords)
    summary = (
        f"{len(points)} mesures du {points[0].at:%d/%m/%Y} au {points[-1].at:%d/%m/%Y}, "
        f"de {_label(min(values))} à {_label(max(values))} {unit}; "
        f"dernière : {_label(points[-1].value)} {unit}."
    )
    if thresholds:
        summary += (
            " Seuils d'alerte : " + " et ".join(f"{_label(v)} {unit}" for v in thresholds) + "."
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
        f'{limits}<polyline points="{line}"/>{dots}</svg>'
    )
    return Markup(svg)
