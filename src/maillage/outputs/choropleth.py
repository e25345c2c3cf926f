"""A self-contained choropleth page: inline SVG, native tooltips, no tile server, no CDN.

The map must open offline on an ARS analyst's laptop and be attached to an e-mail, so it
carries its own geometry (simplified per panel) and a few lines of script for zoom and pan.
Overseas departments get panels of their own beside metropolitan France. Each panel keeps its
extent in ``data-bbox``, so that a web page can draw sites read at view time (the registry's)
over panels a job drew earlier.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import shapely

from maillage.access.measure import CLASS_NAMES, Measure, measure_in
from maillage.french_format import number, numbers_column
from maillage.outputs.geometry_text import cached_lines
from maillage.territory.communes import wkb_values
from maillage.territory.geography import departements, regions

#: Zoning colours (ColorBrewer RdYlGn, colour-blind safe end points).
CLASS_COLOURS = {
    "sous-dotee": "#d7301f",
    "intermediaire": "#fdae61",
    "dotee": "#1a9850",
}
#: Sequential palette (ColorBrewer YlGnBu, 7 classes) when no zoning thresholds exist.
SEQUENTIAL = ["#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#0c2c84"]
CLASS_LABELS = {
    "sous-dotee": "Sous-dotée",
    "intermediaire": "Intermédiaire",
    "dotee": "Dotée",
}
NO_DATA = "#d9d9d9"
NO_DATA_LABEL = "Sans donnée (voir les notes)"
#: Diverging palette (ColorBrewer RdBu, 7 classes): losses red, gains blue, no change pale.
DIVERGING = ["#b2182b", "#ef8a62", "#fddbc7", "#f7f7f7", "#d1e5f0", "#67a9cf", "#2166ac"]
#: A panel's commune results shown as "no value" (kept apart from the legend's colours).
GENERIC = Measure("valeur", "", 1.0, None)
#: Territory levels as titles name them ("Accessibilité par EPCI").
LEVEL_NAMES = {"epci": "EPCI", "departement": "département", "region": "région"}
OUTLINE_FILL = "#ececec"
SYNTHETIC_BANNER = (
    "<p class='synthetic'>SYNTHETIC — données d'offre de soins synthétiques, "
    "pas des praticiens réels.</p>"
)
PANEL_WIDTH = 1000.0
#: Polygons are simplified to the panel's width in degrees divided by this.
SIMPLIFY_SHARE = 2500
#: A marker's radius is the panel's longer side divided by this.
MARKER_SHARE = 90
#: A panel's extent in degrees (west south east north), kept on its ``<svg>`` so that markers can
#: be drawn later on panels a job drew (see :func:`add_markers`).
_BBOX = re.compile(r'<svg [^>]*data-bbox="([-0-9. ]+)"')


@dataclass(frozen=True)
class Marker:
    """A point drawn over the map (a planned or existing site).

    Planned and existing sites differ by shape as well as colour, for colour-blind readers.
    """

    lon: float
    lat: float
    label: str
    colour: str = "#3f007d"
    shape: Literal["circle", "square"] = "circle"


def colours(
    table: pd.DataFrame, value: str, classe: str, measure: Measure
) -> tuple[np.ndarray, list[tuple]]:
    """Fill colour per commune and the legend entries (label, colour), with units and
    thresholds ("Sous-dotée (≤ 2,5) — consultation/an/habitant")."""
    classes = table[classe].fillna("").to_numpy(dtype=str) if classe in table else None
    if classes is not None and (classes != "").any():
        fill = np.array([CLASS_COLOURS.get(c, NO_DATA) for c in CLASS_COLOURS] + [NO_DATA])
        codes = pd.Categorical(classes, categories=list(CLASS_COLOURS)).codes
        named = measure.class_labels() or {c: CLASS_NAMES[c] for c in CLASS_COLOURS}
        legend = [
            (f"{named[c][:1].upper()}{named[c][1:]}{measure.suffix(' — ')}", CLASS_COLOURS[c])
            for c in CLASS_COLOURS
        ]
        return fill[codes], [*legend, (NO_DATA_LABEL, NO_DATA)]
    values = table[value].to_numpy(dtype=float)
    finite = np.isfinite(values)
    edges = np.empty(0)
    if finite.any():
        edges = np.unique(np.nanquantile(values[finite], np.linspace(0, 1, 8)))
    bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(SEQUENTIAL) - 1)
    fill = np.where(finite, np.array(SEQUENTIAL)[bins], NO_DATA)
    legend = [
        (f"{_bound(lo, measure)} – {_bound(hi, measure)}{measure.suffix()}", SEQUENTIAL[i])
        for i, (lo, hi) in enumerate(itertools.pairwise(edges))
    ]
    return fill, [*legend, (NO_DATA_LABEL, NO_DATA)]


def change_colours(values: pd.Series, measure: Measure) -> tuple[np.ndarray, list[tuple]]:
    """Gains and losses on a diverging palette centred on no change (exactly zero), in three
    steps each side up to the 98th percentile of the absolute change."""
    change = values.to_numpy(dtype=float)
    finite = np.isfinite(change)
    largest = float(np.nanquantile(np.abs(change[finite]), 0.98)) if finite.any() else 0.0
    if largest == 0.0:
        fill = np.where(finite, DIVERGING[3], NO_DATA)
        return fill, [("Aucun changement", DIVERGING[3]), (NO_DATA_LABEL, NO_DATA)]
    edges = np.array([-2, -1, 0, 1, 2]) * largest / 3
    bins = np.searchsorted(edges, change, side="left")  # 0..5 over the six open steps
    steps = np.where(change > 0, bins + 1, bins)  # 3 (no change) only for exactly zero
    fill = np.where(finite, np.array(DIVERGING)[np.clip(steps, 0, 6)], NO_DATA)
    shown = [_bound(e, measure, signed=True) for e in edges[[0, 1, 3, 4]]]
    legend = [
        (f"Baisse de plus de {shown[0].lstrip('-')}", DIVERGING[0]),
        (f"Baisse de {shown[1].lstrip('-')} à {shown[0].lstrip('-')}", DIVERGING[1]),
        (f"Baisse de moins de {shown[1].lstrip('-')}", DIVERGING[2]),
        ("Aucun changement", DIVERGING[3]),
        (f"Hausse de moins de {shown[2].lstrip('+')}", DIVERGING[4]),
        (f"Hausse de {shown[2].lstrip('+')} à {shown[3].lstrip('+')}", DIVERGING[5]),
        (f"Hausse de plus de {shown[3].lstrip('+')}", DIVERGING[6]),
    ]
    return fill, [
        (label if c == DIVERGING[3] else f"{label}{measure.suffix()}", c) for label, c in legend
    ] + [(NO_DATA_LABEL, NO_DATA)]


def _bound(value: float, measure: Measure, signed: bool = False) -> str:
    """A legend bound in the measure's scale, with one more digit than its values."""
    return number(value * measure.scale, measure.digits + 1, signed=signed)


def _escape(text: pd.Series) -> pd.Series:
    """Vectorised ``html.escape`` for SVG text content."""
    return text.str.replace("&", "&amp;").str.replace("<", "&lt;").str.replace(">", "&gt;")


def svg_paths(geoms: np.ndarray) -> np.ndarray:
    """SVG path data for already projected polygons, one string per geometry.

    Holes wind opposite to their exterior ring, so the default nonzero fill rule leaves
    enclaves empty: WeasyPrint ignores a stylesheet's ``fill-rule: evenodd`` and would fill
    them in the PDF report. WKT is written by GEOS in C with rounding; a few regular-expression
    passes over the joined text turn every ring into ``M x y x y … Z`` (implicit line-tos), so
    no Python loop runs over rings or vertices. Rings follow one another with no comma between
    them: browsers stop reading a path at ``Z,M`` and would drop holes and islands.
    """
    wkt = shapely.to_wkt(shapely.orient_polygons(geoms), rounding_precision=1, trim=True)
    text = "\n".join(np.where(pd.isna(wkt), "EMPTY", wkt).tolist())
    text = re.sub(r"[A-Z ]*\(+", "M", re.sub(r"(MULTI)?POLYGON ", "", text))
    text = re.sub(r"\)+", "Z", text).replace(", ", " ").replace("Z,M", "ZM")
    return np.array(text.split("\n"))


def _projection(bounds: np.ndarray) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    """Equirectangular projection of a panel, scaled by the cosine of its mean latitude, and
    the panel's height."""
    sx = np.cos(np.radians((bounds[1] + bounds[3]) / 2))
    scale = PANEL_WIDTH / max((bounds[2] - bounds[0]) * sx, 1e-6)

    def project(coords: np.ndarray) -> np.ndarray:
        return np.column_stack(
            [(coords[:, 0] - bounds[0]) * sx * scale, (bounds[3] - coords[:, 1]) * scale]
        )

    return project, (bounds[3] - bounds[1]) * scale


def _symbol(marker: Marker, x: float, y: float, radius: float) -> str:
    title = f"<title>{html.escape(marker.label)}</title>"
    if marker.shape == "square":
        return (
            f'<rect class="site" x="{x - radius:.1f}" y="{y - radius:.1f}" '
            f'width="{2 * radius:.1f}" height="{2 * radius:.1f}" fill="{marker.colour}">'
            f"{title}</rect>"
        )
    return (
        f'<circle class="site" cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" '
        f'fill="{marker.colour}">{title}</circle>'
    )


def _marker_svg(markers: list[Marker], bounds: np.ndarray) -> str:
    """The markers that lie within ``bounds``, projected as the panel's polygons were and
    sized to the panel (a tall panel is shown smaller), so that they look alike on every map."""
    if not markers:
        return ""
    lonlat = _lonlat(markers)
    inside = _within(lonlat, bounds)
    project, height = _projection(bounds)
    points = project(lonlat)
    radius = max(PANEL_WIDTH, height) / MARKER_SHARE
    return "".join(
        _symbol(m, x, y, radius)
        for m, (x, y), keep in zip(markers, points, inside, strict=True)
        if keep
    )


def _panel(
    wkb: np.ndarray, fill: np.ndarray, titles: np.ndarray, markers: list[Marker], name: str
) -> str:
    """One SVG panel of polygons (WKB); its extent, rounded as written in ``data-bbox``, fixes
    the projection. The extent and paths come from the cache when these polygons were drawn
    before."""
    extent, *paths = cached_lines("svg", wkb, f"{PANEL_WIDTH} {SIMPLIFY_SHARE}", drawing)
    bounds = np.array([float(b) for b in extent.split()])
    _project, height = _projection(bounds)
    body = "".join(
        f'<path d="{d.decode()}" fill="{f}"><title>{t}</title></path>'
        for d, f, t in zip(paths, fill, titles, strict=True)
        if d != b"EMPTY"
    )
    shown = " ".join(f"{b:.6f}" for b in bounds)
    return (
        f'<figure class="panel"><figcaption>{html.escape(name)}</figcaption>'
        f'<svg viewBox="0 0 {PANEL_WIDTH:.0f} {height:.0f}" role="img" '
        f'aria-label="{html.escape(name)}" data-bbox="{shown}">'
        f"{body}{_marker_svg(markers, bounds)}</svg></figure>"
    )


def drawing(geoms: np.ndarray) -> list[str]:
    """A panel's extent (west south east north, rounded to six decimals) then each polygon's
    path, simplified to the panel's scale: the text that depends on the polygons alone."""
    bounds = np.round(shapely.total_bounds(geoms), 6)
    project, _height = _projection(bounds)
    simple = shapely.simplify(
        geoms, tolerance=(bounds[2] - bounds[0]) / SIMPLIFY_SHARE, preserve_topology=False
    )
    paths = svg_paths(shapely.transform(simple, project))
    return [" ".join(repr(b) for b in bounds.tolist()), *paths.tolist()]


def add_markers(svg: str, markers: list[Marker]) -> tuple[str, np.ndarray]:
    """``svg`` (panels drawn earlier, e.g. by a job) with ``markers`` drawn on each panel they
    fall in, and which markers were drawn; panels without ``data-bbox`` (drawn by an older
    version) are left as they were."""
    parts = svg.split("</svg>")
    lonlat = _lonlat(markers)
    drawn = np.zeros(len(markers), dtype=bool)
    for i, part in enumerate(parts[:-1]):
        found = _BBOX.search(part)
        if found:
            bounds = np.array(found.group(1).split(), dtype=float)
            parts[i] += _marker_svg(markers, bounds)
            drawn |= _within(lonlat, bounds)
    return "</svg>".join(parts), drawn


def _lonlat(markers: list[Marker]) -> np.ndarray:
    return np.array([[m.lon, m.lat] for m in markers], dtype=float).reshape(-1, 2)


def _within(lonlat: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Which points lie within a panel's extent (west south east north); NaN ones do not."""
    return np.all(lonlat >= bounds[:2], axis=1) & np.all(lonlat <= bounds[2:], axis=1)


def choropleth_svg(
    table: pd.DataFrame,
    value: str = "access",
    classe: str = "classe",
    markers: list[Marker] | None = None,
    measure: Measure = GENERIC,
    details: pd.Series | None = None,
) -> tuple[str, list[tuple]]:
    """SVG panels (the metropolitan communes, then each overseas department present) and
    legend; tooltips read "La Rochelle (17300) — APL 1,3 consultation/an/habitant —
    sous-dotée (≤ 2,5)", then ``details`` (e.g. the population) when given."""
    fill, legend = colours(table, value, classe, measure)
    classes = table.get(classe, None)
    text = _named(table) + " — " + measure.describe(table[value], classes)
    if details is not None:
        text = text + " — " + details
    return _panels(
        table.geometry, table.departement, fill, _escape(text).to_numpy(), markers or []
    ), legend


def change_svg(table: pd.DataFrame, measure: Measure) -> tuple[str, list[tuple]]:
    """Gains and losses per row of ``table`` (``access_before``, ``access_after``,
    ``access_change``, ``classe_before``, ``classe_after``) on a diverging palette."""
    fill, legend = change_colours(table.access_change, measure)
    labels = measure.class_labels()
    classes = (
        table.classe_before.map(labels).astype(object).fillna("non classée")
        + " → "
        + table.classe_after.map(labels).astype(object).fillna("non classée")
    )
    before, after, change = (
        numbers_column(
            table[c] * measure.scale, measure.digits, signed=c == "access_change"
        ).replace("", "sans donnée")
        for c in ("access_before", "access_after", "access_change")
    )
    text = (
        _named(table)
        + f" — {measure.name} "
        + before
        + " → "
        + after
        + f"{measure.suffix()} ("
        + change
        + ")"
    )
    text = text + " — " + classes
    return _panels(table.geometry, table.departement, fill, _escape(text).to_numpy(), []), legend


def _named(table: pd.DataFrame) -> pd.Series:
    """ "La Rochelle (17300)" per row."""
    return table.nom.fillna("").astype(str) + " (" + table.code_commune.astype(str) + ")"


def panel_names(departement: pd.Series) -> tuple[str, dict[str, str]]:
    """The metropolitan panel's title (its department, its region, or France) and each overseas
    department's, from the departments shown."""
    names = departements().set_index("code")
    shown = sorted(set(departement.dropna().astype(str).unique()) - {""})
    metro = [d for d in shown if not d.startswith("97")]
    overseas = {d: f"{names.nom.get(d, d)} ({d})" for d in shown if d.startswith("97")}
    regions_shown = set(names.region.reindex(metro).dropna())
    if len(metro) == 1:
        return f"{names.nom.get(metro[0], metro[0])} ({metro[0]})", overseas
    if len(regions_shown) == 1:
        return str(regions().set_index("code").nom[regions_shown.pop()]), overseas
    return "France métropolitaine", overseas


def _panels(
    wkb: pd.Series,
    departement: pd.Series,
    fill: np.ndarray,
    titles: np.ndarray,
    markers: list[Marker],
) -> str:
    """The metropolitan communes, then each overseas department present, one panel each,
    titled with the territory it shows."""
    values = wkb_values(wkb)
    has_geom = wkb.notna().to_numpy()
    departement = departement.fillna("").astype(str)
    overseas = departement.str.startswith("97").to_numpy()
    metro_name, overseas_names = panel_names(departement)
    groups = [(metro_name, ~overseas)] + [
        (name, (departement == d).to_numpy()) for d, name in overseas_names.items()
    ]
    panels = []
    for name, mask in groups:
        idx = np.flatnonzero(mask & has_geom)
        if len(idx):
            panels.append(_panel(values[idx], fill[idx], titles[idx], markers, name))
    return "".join(panels)


def sites_svg(outlines: pd.DataFrame, markers: list[Marker]) -> str:
    """Markers over department outlines (``departement``, ``nom``, WKB ``geometry``) in a
    neutral fill: the site registry's map, which has no value to colour."""
    titles = _escape(outlines.nom.astype(str) + " (" + outlines.departement + ")").to_numpy()
    fill = np.full(len(outlines), OUTLINE_FILL)
    return _panels(outlines.geometry, outlines.departement, fill, titles, markers)


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


def choropleth_html(
    table: pd.DataFrame, summary: dict, territories: pd.DataFrame | None = None
) -> str:
    """The diagnosis map: access by commune, coloured by zoning class when one exists, units
    and thresholds in legend and tooltips; with ``territories`` (rows of territories.csv with
    an outline), a map of those first. Notes explain what is grey or unclassified."""
    measure = measure_in(summary)
    people = numbers_column(table.population, 0) + " habitants"
    svg, legend = choropleth_svg(
        table, measure=measure, details=people.where(people != " habitants", "population inconnue")
    )
    maps = [("Accessibilité par commune", svg, legend)]
    if territories is not None and len(territories):
        level = str(territories.level.iloc[0])
        by_territory, territory_legend = choropleth_svg(
            territories, measure=measure, details=territory_details(territories)
        )
        maps.insert(0, (f"Accessibilité par {LEVEL_NAMES[level]}", by_territory, territory_legend))
    synthetic = any(i.get("synthetic") for i in summary.get("inputs", {}).values())
    notes = [
        f"Indicateur : {measure.name} en {measure.unit} ; méthode : {summary.get('method')} ; "
        f"profession : {summary.get('profession')} ; zone : {summary.get('area')}.",
        f"Demande : {summary.get('demand')}.",
        *(item["explication"] for item in summary.get("explanations", [])),
    ]
    if synthetic:
        notes.append("SYNTHETIC : offre de soins synthétique, générée pour la démonstration.")
    title = f"Accessibilité aux soins — {summary.get('area', '')}"
    return page(title, maps, notes)


def evolution_html(communes: pd.DataFrame, epci: pd.DataFrame, summary: dict) -> str:
    """Gains and losses of access since an earlier run, by EPCI then by commune (rows of
    evolution_epci.csv and evolution_communes.csv with outlines)."""
    measure = measure_in(summary)
    compared = summary["compare"]
    epci_svg, epci_legend = change_svg(epci, measure)
    commune_svg, commune_legend = change_svg(communes, measure)
    notes = [
        f"Évolution de l'indicateur {measure.name} ({measure.unit}) entre le diagnostic de "
        f"{compared['previous_run']} ({compared['previous_area']}) et celui-ci "
        f"({summary.get('area')}) ; EPCI d'aujourd'hui pour les deux.",
        f"{number(compared['communes_compared'], 0)} communes comparées, "
        f"{number(compared['communes_changing_class'], 0)} changent de classe ; "
        f"{number(compared['population_gaining'], 0)} habitants gagnent en accès, "
        f"{number(compared['population_losing'], 0)} en perdent.",
        "En gris : communes sans valeur dans l'un des deux diagnostics "
        f"({number(compared['communes_without_value_before'], 0)} sans valeur avant, "
        f"{number(compared['communes_without_value_after'], 0)} sans valeur après).",
    ]
    if any(i.get("synthetic") for i in summary.get("inputs", {}).values()):
        notes.append("SYNTHETIC : offre de soins synthétique, générée pour la démonstration.")
    maps = [
        ("Évolution par EPCI", epci_svg, epci_legend),
        ("Évolution par commune", commune_svg, commune_legend),
    ]
    return page(f"Évolution de l'accès aux soins — {summary.get('area', '')}", maps, notes)


def territory_details(territories: pd.DataFrame) -> pd.Series:
    """ "123 456 habitants ; 28,6 % en commune sous-dotée ; 20 % des ETP à 60 ans ou plus"."""
    under = numbers_column(territories.share_sous_dotee * 100, 1)
    older = numbers_column(territories.share_fte_aged_60_plus * 100, 0)
    return (
        numbers_column(territories.population, 0)
        + " habitants"
        + (" ; " + under + " % en commune sous-dotée").where(under != "", "")
        + (" ; " + older + " % des ETP à 60 ans ou plus").where(older != "", "")
        + np.where(territories.complete.astype(bool), "", " ; en partie hors de la zone")
    )
