"""The files a diagnosis leaves in its output directory, written atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from maillage.diagnosis.compare import Comparison
from maillage.diagnosis.pipeline import Diagnosis
from maillage.diagnosis.territories import territory_keys
from maillage.outputs.atomic import atomic_directory
from maillage.outputs.choropleth import choropleth_html, evolution_html
from maillage.outputs.geojson import feature_collection, features, polygons
from maillage.outputs.serialise import to_json
from maillage.tabular import STANDARD, CsvDialect, write_csv
from maillage.territory.outlines import dissolve

#: Columns of communes.csv, in order (other tools read these names).
CSV_COLUMNS = [
    "code_commune",
    "nom",
    "departement",
    "region",
    "epci",
    "population",
    "demand",
    "supply",
    "access",
    "classe",
    "no_care",
    "supply_data",
]
#: Methods whose ``access`` is FTE per inhabitant (around 0.0009): communes.csv also gives it
#: per 100,000 inhabitants, the unit people read.
PER_INHABITANT_METHODS = ("e2sfca", "2sfca", "gravity")


def write_outputs(
    diagnosis: Diagnosis,
    out: Path,
    dialect: CsvDialect = STANDARD,
    by: str | None = None,
    comparison: Comparison | None = None,
    *,
    overwrite: bool = False,
) -> None:
    """communes.csv/.parquet/.geojson, territories.csv, carte.html and summary.json, all or
    nothing (``out`` new, or a previous diagnosis replaced with ``overwrite``); the CSV in
    ``dialect`` (the Parquet keeps full precision). With ``by`` (a level of
    :data:`~maillage.diagnosis.territories.LEVELS`) the map also shows those territories;
    with ``comparison``, evolution_communes.csv, evolution_epci.csv and evolution.html too."""
    table = diagnosis.communes
    levels = {by} if by else set()
    if comparison is not None:
        levels.add("epci")
    shapes = {level: territory_shapes(table, level) for level in levels}
    territories = diagnosis.territories
    shown = on_map(territories[territories.level == by], shapes[by]) if by else None
    summary = diagnosis.summary | ({"compare": comparison.summary} if comparison else {})
    flat = flat_table(diagnosis)
    with atomic_directory(out, "diagnose", overwrite=overwrite) as tmp:
        pq.write_table(pa.Table.from_pandas(flat, preserve_index=False), tmp / "communes.parquet")
        write_csv(flat, tmp / "communes.csv", dialect)
        write_csv(territories, tmp / "territories.csv", dialect)
        (tmp / "communes.geojson").write_bytes(geojson(table, diagnosis.synthetic))
        (tmp / "carte.html").write_text(choropleth_html(table, summary, shown), encoding="utf-8")
        if comparison is not None:
            write_csv(comparison.communes, tmp / "evolution_communes.csv", dialect)
            write_csv(comparison.epci, tmp / "evolution_epci.csv", dialect)
            communes = comparison.communes.merge(
                table[["code_commune", "departement", "geometry"]], on="code_commune", how="left"
            )
            epci = on_map(comparison.epci, shapes["epci"])
            (tmp / "evolution.html").write_text(
                evolution_html(communes, epci, summary), encoding="utf-8"
            )
        (tmp / "summary.json").write_text(to_json(summary), encoding="utf-8")


def territory_shapes(communes: pd.DataFrame, level: str) -> pd.DataFrame:
    """Per territory code of ``level``: its dissolved outline (WKB ``geometry``) and the
    department whose map panel shows it (an overseas EPCI or region in its own panel)."""
    keys = territory_keys(communes, level)
    return pd.DataFrame(
        {
            "geometry": dissolve(communes.geometry, keys),
            "departement": communes.departement.groupby(keys.to_numpy()).first(),
        }
    )


def on_map(rows: pd.DataFrame, shapes: pd.DataFrame) -> pd.DataFrame:
    """Territory ``rows`` (with ``code``) as map rows: outline, panel, code as the label's."""
    return rows.assign(
        code_commune=rows.code.to_numpy(),
        departement=shapes.departement.reindex(rows.code).to_numpy(),
        geometry=shapes.geometry.reindex(rows.code).to_numpy(),
    ).reset_index(drop=True)


def flat_table(diagnosis: Diagnosis) -> pd.DataFrame:
    """The columns of communes.csv/.parquet: ``CSV_COLUMNS``, plus ``access_per_100k`` after
    ``access`` for the FTE-per-inhabitant methods."""
    table = diagnosis.communes[CSV_COLUMNS].copy()
    if diagnosis.summary["method"] in PER_INHABITANT_METHODS:
        per_100k = table["access"] * 100_000
        table.insert(CSV_COLUMNS.index("access") + 1, "access_per_100k", per_100k)
    return table


def geojson(table: pd.DataFrame, synthetic: bool) -> bytes:
    """A FeatureCollection of commune polygons (WGS84) carrying the CSV columns (UTF-8)."""
    rows = features(polygons(table.geometry), table[CSV_COLUMNS])
    return feature_collection(
        rows, "SYNTHETIC supply — not real practitioners" if synthetic else None
    )
