"""A self-contained choropleth page: inline SVG, native tooltips, no tile server, no CDN.

The map must open offline on an ARS analyst's laptop and be attached to an e-mail, so it
carries its own geometry (simplified per panel) and a few lines of script for zoom and pan.
Overseas departments get panels of their own beside metropolitan France.
"""

from __future__ import annotations

import html
import itertools
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

#: Zoning colours (ColorBrewer RdYlGn, colour-blind safe end points).
CLASS_COLOURS = {
    "sous-dotee": "#d7301f",
    "intermediaire": "#fdae61",
    "dotee": "#1a9850",
}
CLASS_LABELS = {
    "sous-dotee": "Sous-dotée",
    "intermediaire": "Intermédiaire",
    "dotee": "Dotée",
}
#: Sequential palette (ColorBrewer YlGnBu, 7 classes) when no zoning thresholds exist.
SEQUENTIAL = ["#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#0c2c84"]
NO_DATA = "#d9d9d9"
SYNTHETIC_BANNER = (
    "<p class='synthetic'>SYNTHETIC — données d'offre de soins synthétiques, "
    "pas des praticiens réels.</p>"
)
PANEL_WIDTH = 1000.0


@dataclass(frozen=True)
class Marker:
    """A point drawn over the map (a planned or existing site)."""

    lon: float
    lat: float
    label: str
    colour: str = "#3f007d"


def colours(table: pd.DataFrame, value: str, classe: str) -> tuple[np.ndarray, list[tuple]]:
    """Fill colour per commune and the legend entries (label, colour)."""
    classes = table[classe].fillna("").to_numpy(dtype=str) if classe in table else None
    if classes is not None and (classes != "").any():
        fill = np.array([CLASS_COLOURS.get(c, NO_DATA) for c in CLASS_COLOURS] + [NO_DATA])
        codes = pd.Categorical(classes, categories=list(CLASS_COLOURS)).codes
        legend = [(CLASS_LABELS[c], CLASS_COLOURS[c]) for c in CLASS_COLOURS]
        return fill[codes], [*legend, ("Sans donnée", NO_DATA)]
    values = table[value].to_numpy(dtype=float)
    finite = np.isfinite(values)
    edges = np.unique(np.nanquantile(values[finite], np.linspace(0, 1, 8))) if finite.any() else []
    bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(SEQUENTIAL) - 1)
    fill = np.where(finite, np.array(SEQUENTIAL)[bins], NO_DATA)
    legend = [
        (f"{lo:.3g} – {hi:.3g}", SEQUENTIAL[i])
        for i, (lo, hi) in enumerate(itertools.pairwise(edges))
    ]
    return fill, [*legend, ("Sans donnée", NO_DATA)]


def _escape(text: pd.Series) -> pd.Series:
    """Vectorised ``html.escape`` for SVG text content."""
    return text.str.replace("&", "&amp;").str.replace("<", "&lt;").str.replace(">", "&gt;")


def svg_paths(geoms: np.ndarray) -> np.ndarray:
    """SVG path data for already projected polygons, one string per geometry.

    WKT is written by GEOS in C with rounding; a few regular-expression passes over the joined
    text turn every ring into ``M x y x y … Z`` (implicit line-tos), so no Python loop runs
    over rings or vertices.
    """
    wkt = shapely.to_wkt(geoms, rounding_precision=1, trim=True)
    text = "\n".join(np.where(pd.isna(wkt), "EMPTY", wkt).tolist())
    text = re.sub(r"[A-Z ]*\(+", "M", re.sub(r"(MULTI)?POLYGON ", "", text))
    text = re.sub(r"\)+", "Z", text).replace(", ", " ").replace("Z M", "ZM")
    return np.array(text.split("\n"))


def _panel(
    geoms: np.ndarray, fill: np.ndarray, titles: np.ndarray, markers: list[Marker], name: str
) -> str:
    """One SVG panel: equirectangular projection scaled by the cosine of the mean latitude."""
    bounds = shapely.total_bounds(geoms)
    sx = np.cos(np.radians((bounds[1] + bounds[3]) / 2))
    width_deg = max((bounds[2] - bounds[0]) * sx, 1e-6)
    scale = PANEL_WIDTH / width_deg
    height = (bounds[3] - bounds[1]) * scale

    def project(coords: np.ndarray) -> np.ndarray:
        return np.column_stack(
            [(coords[:, 0] - bounds[0]) * sx * scale, (bounds[3] - coords[:, 1]) * scale]
        )

    simple = shapely.simplify(geoms, tolerance=width_deg / 2500 / sx, preserve_topology=False)
    paths = svg_paths(shapely.transform(simple, project))
    body = "".join(
        f'<path d="{d}" fill="{f}"><title>{t}</title></path>'
        for d, f, t in zip(paths, fill, titles, strict=True)
        if d != "EMPTY"
    )
    dots = ""
    if markers:
        pts = project(np.array([[m.lon, m.lat] for m in markers]))
        dots = "".join(
            f'<circle class="site" cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{m.colour}">'
            f"<title>{html.escape(m.label)}</title></circle>"
            for (x, y), m in zip(pts, markers, strict=True)
        )
    return (
        f'<figure class="panel"><figcaption>{html.escape(name)}</figcaption>'
        f'<svg viewBox="0 0 {PANEL_WIDTH:.0f} {height:.0f}" role="img" '
        f'aria-label="{html.escape(name)}">{body}{dots}</svg></figure>'
    )


def choropleth_svg(
    table: pd.DataFrame,
    value: str = "access",
    classe: str = "classe",
    markers: list[Marker] | None = None,
    value_label: str = "accès",
) -> tuple[str, list[tuple]]:
    """SVG panels (metropolitan France, then each overseas department present) and legend."""
    fill, legend = colours(table, value, classe)
    has_geom = table.geometry.notna().to_numpy()
    geoms = shapely.from_wkb(table.geometry.where(has_geom, None).to_numpy())
    values = table[value].astype(float)
    shown = values.map("{:.3g}".format).where(np.isfinite(values), "sans donnée")
    classes = table[classe].fillna("") if classe in table else pd.Series("", index=table.index)
    titles = _escape(
        table.nom.astype(str)
        + " ("
        + table.code_commune.astype(str)
        + ") — "
        + value_label
        + " "
        + shown
        + " — "
        + classes.replace("", "non classée")
    ).to_numpy()
    overseas = table.departement.str.startswith("97").to_numpy()
    groups = [("France métropolitaine", ~overseas)] + [
        (f"Département {d}", (table.departement == d).to_numpy())
        for d in sorted(table.departement[overseas].unique())
    ]
    panels = []
    for name, mask in groups:
        mask = mask & has_geom
        if not mask.any():
            continue
        idx = np.flatnonzero(mask)
        panel_markers = [m for m in markers or [] if _inside(m, geoms[idx])]
        panels.append(_panel(geoms[idx], fill[idx], titles[idx], panel_markers, name))
    return "".join(panels), legend


def _inside(marker: Marker, geoms: np.ndarray) -> bool:
    lo_x, lo_y, hi_x, hi_y = shapely.total_bounds(geoms)
    return lo_x <= marker.lon <= hi_x and lo_y <= marker.lat <= hi_y


def page(title: str, maps: list[tuple[str, str, list[tuple]]], notes: list[str]) -> str:
    """A French HTML page holding one or several titled maps with legends."""
    sections = "".join(
        f"<section><h2>{html.escape(name)}</h2>"
        f'<div class="legend">{_legend(legend)}</div><div class="maps">{svg}</div></section>'
        for name, svg, legend in maps
    )
    banner = SYNTHETIC_BANNER if any("SYNTHETIC" in n for n in notes) else ""
    notes_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1rem;color:#1a1a1a}}
.maps{{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}}
.panel{{margin:0;flex:1 1 22rem;max-width:60rem;border:1px solid #bbb}}
.panel:not(:first-child){{flex:0 1 14rem}}
figcaption{{font-size:.85rem;padding:.2rem .4rem;background:#f2f2f2}}
svg{{width:100%;height:auto;max-height:85vh;cursor:grab;touch-action:none;display:block}}
path{{fill-rule:evenodd;stroke:#fff;stroke-width:.3;vector-effect:non-scaling-stroke}}
path:hover{{stroke:#000;stroke-width:1.5}}
.site{{stroke:#fff;stroke-width:1.5}}
.legend span{{display:inline-block;margin-right:1rem}}
.legend i{{display:inline-block;width:1rem;height:1rem;vertical-align:middle;margin-right:.3rem;
border:1px solid #888}}
.synthetic{{background:#fff3cd;border:2px solid #c77c00;padding:.5rem;font-weight:bold}}
</style></head><body>
<h1>{html.escape(title)}</h1>
{banner}
{sections}
<ul>{notes_html}</ul>
<p><small>Molette : zoom ; glisser : déplacer ; double-clic : vue initiale.
Survoler une commune affiche sa valeur.</small></p>
<script>
document.querySelectorAll("svg").forEach(function (svg) {{
  var base = svg.viewBox.baseVal, home = [base.x, base.y, base.width, base.height], drag = null;
  function set(v) {{ base.x = v[0]; base.y = v[1]; base.width = v[2]; base.height = v[3]; }}
  svg.addEventListener("wheel", function (e) {{
    e.preventDefault();
    var r = svg.getBoundingClientRect(), k = e.deltaY < 0 ? 0.8 : 1.25;
    var px = base.x + (e.clientX - r.left) / r.width * base.width;
    var py = base.y + (e.clientY - r.top) / r.height * base.height;
    set([px - (px - base.x) * k, py - (py - base.y) * k, base.width * k, base.height * k]);
  }}, {{passive: false}});
  svg.addEventListener("pointerdown", function (e) {{ drag = [e.clientX, e.clientY]; }});
  svg.addEventListener("pointerup", function () {{ drag = null; }});
  svg.addEventListener("pointermove", function (e) {{
    if (!drag) return;
    var r = svg.getBoundingClientRect();
    base.x -= (e.clientX - drag[0]) / r.width * base.width;
    base.y -= (e.clientY - drag[1]) / r.height * base.height;
    drag = [e.clientX, e.clientY];
  }});
  svg.addEventListener("dblclick", function () {{ set(home); }});
}});
</script>
</body></html>
"""


def _legend(entries: list[tuple]) -> str:
    return "".join(
        f'<span><i style="background:{c}"></i>{html.escape(label)}</span>' for label, c in entries
    )


def choropleth_html(table: pd.DataFrame, summary: dict) -> str:
    """The diagnosis map: access by commune, coloured by zoning class when one exists."""
    svg, legend = choropleth_svg(table)
    synthetic = any(i.get("synthetic") for i in summary.get("inputs", {}).values())
    notes = [
        f"Méthode : {summary.get('method')} ; profession : {summary.get('profession')} ; "
        f"zone : {summary.get('area')}.",
        f"Demande : {summary.get('demand')}.",
    ]
    if synthetic:
        notes.append("SYNTHETIC : offre de soins synthétique, générée pour la démonstration.")
    title = f"Accessibilité aux soins — {summary.get('area', '')}"
    return page(title, [("Accessibilité par commune", svg, legend)], notes)
