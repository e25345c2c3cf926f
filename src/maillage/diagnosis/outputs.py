"""The files a diagnosis leaves in its output directory, written atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from maillage.diagnosis.pipeline import Diagnosis
from maillage.reports.atomic import atomic_directory
from maillage.reports.choropleth import choropleth_html
from maillage.reports.geojson import feature_collection, features, polygons
from maillage.reports.serialise import to_json

#: Columns of communes.csv, in order (other tools read these names).
CSV_COLUMNS = [
    "code_commune",
    "nom",
    "departement",
    "region",
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


def write_outputs(diagnosis: Diagnosis, out: Path) -> None:
    """communes.csv/.parquet/.geojson, carte.html and summary.json, all or nothing."""
    table = diagnosis.communes
    with atomic_directory(out) as tmp:
        flat = pa.Table.from_pandas(flat_table(diagnosis), preserve_index=False)
        pq.write_table(flat, tmp / "communes.parquet")
        # Arrow writes each float's shortest repr that reads back exactly: every digit kept
        pacsv.write_csv(flat, tmp / "communes.csv", pacsv.WriteOptions(quoting_style="needed"))
        (tmp / "communes.geojson").write_text(geojson(table, diagnosis.synthetic), encoding="utf-8")
        (tmp / "carte.html").write_text(choropleth_html(table, diagnosis.summary), encoding="utf-8")
        (tmp / "summary.json").write_text(
            to_json(diagnosis.summary),
            encoding="utf-8",
        )


def flat_table(diagnosis: Diagnosis) -> pd.DataFrame:
    """The columns of communes.csv/.parquet: ``CSV_COLUMNS``, plus ``access_per_100k`` after
    ``access`` for the FTE-per-inhabitant methods."""
    table = diagnosis.communes[CSV_COLUMNS].copy()
    if diagnosis.summary["method"] in PER_INHABITANT_METHODS:
        per_100k = table["access"] * 100_000
        table.insert(CSV_COLUMNS.index("access") + 1, "access_per_100k", per_100k)
    return table


def geojson(table: pd.DataFrame, synthetic: bool) -> str:
    """A FeatureCollection of commune polygons (WGS84) carrying the CSV columns."""
    rows = features(polygons(table.geometry), table[CSV_COLUMNS])
    return feature_collection(
        rows, "SYNTHETIC supply — not real practitioners" if synthetic else None
    )
