"""The files a plan leaves in its output directory, written atomically.

``sites.csv`` (the new sites in rank order), ``impact.csv`` (access before/after per commune),
``plan.geojson`` (communes with their impact, and the sites as points), ``carte.html`` (before
and after maps with the sites, offline) and ``summary.json`` (objective, bound, gap, solver,
times, parameters, provenance). Where the supply is synthetic every file says SYNTHETIC.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely

from maillage.planning.pipeline import Plan
from maillage.reports.atomic import atomic_directory
from maillage.reports.choropleth import Marker, choropleth_svg, page
from maillage.reports.geojson import feature_collection, features, polygons
from maillage.reports.serialise import to_json

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
]
NEW_COLOUR, EXISTING_COLOUR = "#3f007d", "#636363"


def write_plan(plan: Plan, out: Path, maps: list[tuple] | None = None) -> None:
    """All five files, or none: a failure leaves ``out`` as it was."""
    supply_data = "SYNTHETIC" if plan.synthetic else "declared"
    sites = plan.sites.assign(supply_data=supply_data)[SITES_COLUMNS]
    impact = plan.impact.table.assign(supply_data=supply_data)
    with atomic_directory(out) as tmp:
        _csv(sites, tmp / "sites.csv")
        _csv(impact, tmp / "impact.csv")
        (tmp / "plan.geojson").write_text(geojson(plan), encoding="utf-8")
        (tmp / "carte.html").write_text(map_page(plan, maps), encoding="utf-8")
        (tmp / "summary.json").write_text(
            to_json(plan.summary),
            encoding="utf-8",
        )


def _csv(table: pd.DataFrame, path: Path) -> None:
    flat = pa.Table.from_pandas(table, preserve_index=False)
    # every float as its shortest exact repr, like communes.csv
    pacsv.write_csv(flat, path, pacsv.WriteOptions(quoting_style="needed"))


def geojson(plan: Plan) -> str:
    """Commune polygons carrying their impact, then new and existing sites as points (WGS84)."""
    communes = plan.diagnosis.communes[["code_commune", "geometry"]].merge(
        plan.impact.table, on="code_commune"
    )
    sites = pd.concat(
        [
            plan.sites.assign(status="nouveau"),
            plan.existing.assign(status="existant", rank=pd.NA, gain=pd.NA),
        ],
        ignore_index=True,
    )
    site_props = sites[["status", *[c for c in SITES_COLUMNS if c in sites]]]
    rows = pd.concat(
        [
            features(polygons(communes.geometry), communes.drop(columns="geometry")),
            features(shapely.points(sites.lon, sites.lat), site_props),
        ]
    )
    return feature_collection(
        rows, "SYNTHETIC supply — simulation" if plan.synthetic else "simulation"
    )


def before_after_maps(plan: Plan) -> list[tuple[str, str, list[tuple]]]:
    """(title, svg, legend) of access before and after, the sites drawn on both maps."""
    impact = plan.impact.table
    base = plan.diagnosis.communes[["code_commune", "nom", "departement", "geometry"]]
    markers = [
        Marker(row.lon, row.lat, f"n° {row.rank} — {row.name} ({row.code_commune})", NEW_COLOUR)
        for row in plan.sites.itertuples()
    ] + [
        Marker(row.lon, row.lat, f"existant — {row.name} ({row.code_commune})", EXISTING_COLOUR)
        for row in plan.existing.itertuples()
    ]
    maps = []
    for when, title in (("before", "Avant : diagnostic"), ("after", "Après : simulation")):
        table = base.merge(
            impact[["code_commune", f"access_{when}", f"classe_{when}"]], on="code_commune"
        )
        svg, legend = choropleth_svg(table, f"access_{when}", f"classe_{when}", markers)
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
        f"SIMULATION : chaque site ajoute {scenario['teleconsultations_per_site']:g} "
        f"téléconsultations par an ({scenario['fte_equivalent_per_site']:.2f} ETP de "
        "médecin généraliste) dans sa commune ; ce n'est pas une prévision.",
    ]
    if scenario["population_leaving_sous_dotee"] is not None:
        notes.append(
            f"Population sortant de la classe sous-dotée : "
            f"{scenario['population_leaving_sous_dotee']:,.0f}".replace(",", " ")
        )
    if plan.synthetic:
        notes.append("SYNTHETIC : offre de soins synthétique, générée pour la démonstration.")
    return page(f"Plan de {summary['sites']} sites — {summary['area']}", maps, notes)


def _percent(gap: float | None) -> str:
    return "non certifié" if gap is None else f"{gap:.2%}"
