"""The files a plan leaves in its output directory, written atomically.

``sites.csv`` (the new sites in rank order, then the existing ones; ``status`` tells them
apart), ``impact.csv`` (access before/after per commune), ``plan.geojson`` (communes with their
impact, and the sites as points), ``carte.html`` (before and after maps with the sites, offline)
and ``summary.json`` (objective, bound, gap, solver, times, parameters, provenance). Where the
supply is synthetic every file says SYNTHETIC.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from maillage.access.measure import measure_in
from maillage.outputs.atomic import atomic_directory
from maillage.outputs.choropleth import Marker, choropleth_svg, page
from maillage.outputs.geojson import feature_collection, features, points, polygons
from maillage.outputs.serialise import to_json
from maillage.planning.pipeline import Plan
from maillage.tabular import STANDARD, CsvDialect, write_csv

SITES_COLUMNS = [
    "rank",
    "site_id",
    "name",
    "code_commune",
    "lon",
    "lat",
    "gain",
    "population_covered",
    "departement",
    "cost",
    "supply_data",
    "status",
]
NEW, EXISTING = "nouveau", "existant"
NEW_COLOUR, EXISTING_COLOUR = "#3f007d", "#636363"


def write_plan(
    plan: Plan,
    out: Path,
    maps: list[tuple] | None = None,
    dialect: CsvDialect = STANDARD,
    *,
    overwrite: bool = False,
) -> None:
    """All five files, or none: a failure leaves ``out`` as it was (``out`` new, or a previous
    plan replaced with ``overwrite``); CSV in ``dialect``."""
    supply_data = "SYNTHETIC" if plan.synthetic else "declared"
    sites = site_rows(plan).assign(supply_data=supply_data)[SITES_COLUMNS]
    impact = plan.impact.table.assign(supply_data=supply_data)
    with atomic_directory(out, "plan", overwrite=overwrite) as tmp:
        write_csv(sites, tmp / "sites.csv", dialect)
        write_csv(impact, tmp / "impact.csv", dialect)
        (tmp / "plan.geojson").write_bytes(geojson(plan))
        (tmp / "carte.html").write_text(map_page(plan, maps), encoding="utf-8")
        (tmp / "summary.json").write_text(
            to_json(plan.summary),
            encoding="utf-8",
        )


def geojson(plan: Plan) -> bytes:
    """Commune polygons carrying their impact, then new and existing sites as points (WGS84),
    as the file's UTF-8 bytes."""
    communes = plan.diagnosis.communes[["code_commune", "geometry"]].merge(
        plan.impact.table, on="code_commune"
    )
    sites = site_rows(plan)
    site_props = sites[["status", *[c for c in SITES_COLUMNS if c in sites and c != "status"]]]
    rows = features(polygons(communes.geometry), communes.drop(columns="geometry"))
    if len(sites):  # an LSCP may need no new site where existing care covers everyone
        rows += features(points(sites.lon.tolist(), sites.lat.tolist()), site_props)
    return feature_collection(
        rows, "SYNTHETIC supply — simulation" if plan.synthetic else "simulation"
    )


def site_rows(plan: Plan) -> pd.DataFrame:
    """The new sites in rank order, then the existing ones (no rank nor gain), with their
    ``status``: the rows of ``sites.csv`` and the points of ``plan.geojson``."""
    rows = pd.concat(
        [plan.sites.assign(status=NEW), plan.existing.assign(status=EXISTING)], ignore_index=True
    )
    return rows.astype({"rank": "Int64", "gain": float})  # integers and numbers, blank if none


def before_after_maps(plan: Plan) -> list[tuple[str, str, list[tuple]]]:
    """(title, svg, legend) of access before and after, the sites drawn on both maps."""
    impact = plan.impact.table
    base = plan.diagnosis.communes[["code_commune", "nom", "departement", "geometry"]]
    new = plan.sites[["lon", "lat", "rank", "name", "code_commune"]]
    existing = plan.existing[["lon", "lat", "name", "code_commune"]]
    markers = [
        Marker(lon, lat, f"n° {rank} — {name} ({commune})", NEW_COLOUR)
        for lon, lat, rank, name, commune in new.itertuples(index=False, name=None)
    ] + [
        Marker(lon, lat, f"existant — {name} ({commune})", EXISTING_COLOUR)
        for lon, lat, name, commune in existing.itertuples(index=False, name=None)
    ]
    maps = []
    for when, title in (("before", "Avant : diagnostic"), ("after", "Après : simulation")):
        table = base.merge(
            impact[["code_commune", f"access_{when}", f"classe_{when}"]], on="code_commune"
        )
        svg, legend = choropleth_svg(
            table, f"access_{when}", f"classe_{when}", markers, measure_in(plan.diagnosis.summary)
        )
        maps.append((title, svg, legend))
    return maps


def map_page(plan: Plan, maps: list[tuple] | None = None) -> str:
    """Before and after maps side by side in one offline page, the sites drawn on both
    (``maps`` from :func:`before_after_maps` when the caller already drew them)."""
    maps = maps if maps is not None else before_after_maps(plan)
    summary = plan.summary
    scenario = summary["scenario"]
    notes = [
        f"{summary['sites']} nouveaux sites (violet), {summary['existing_sites']} existants "
        f"(gris) ; objectif {summary['objective_name']} à {summary['parameters']['minutes']:g} "
        f"min ; solveur {summary['solver']}, écart certifié {_percent(summary['gap'])}.",
        f"Objectif : {summary['explanation']['objectif']}",
        f"Pourquoi ces sites : {summary['explanation']['pourquoi']}",
        f"SIMULATION : chaque site ajoute {scenario['teleconsultations_per_site']:g} "
        f"téléconsultations par an ({scenario['fte_equivalent_per_site']:.2f} ETP de "
        "médecin généraliste) dans sa commune ; ce n'est pas une prévision.",
    ]
    if scenario["population_leaving_sous_dotee"] is not None:
        notes.append(
            f"Population sortant de la classe sous-dotée : "
            f"{scenario['population_leaving_sous_dotee']:,.0f}".replace(",", " ")
        )
    out_of_reach = summary["explanation"]["hors_de_portee"]
    if out_of_reach and out_of_reach["communes"]:
        notes.append(
            f"Hors de portée : {out_of_reach['communes']} communes sans site candidat à moins de "
            f"{summary['parameters']['minutes']:g} min, comptées à part (summary.json)."
        )
    if plan.synthetic:
        notes.append("SYNTHETIC : offre de soins synthétique, générée pour la démonstration.")
    return page(f"Plan de {summary['sites']} sites — {summary['area']}", maps, notes)


def _percent(gap: float | None) -> str:
    return "non certifié" if gap is None else f"{gap:.2%}"
