"""The files a diagnosis leaves in its output directory, written atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from maillage.diagnosis.pipeline import Diagnosis
from maillage.reports.atomic import atomic_directory
from maillage.reports.choropleth import choropleth_html
from maillage.reports.geojson import feature_collection, features, polygons
from maillage.reports.serialise import to_json
from maillage.tabular import STANDARD, CsvDialect, write_csv

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


def write_outputs(diagnosis: Diagnosis, out: Path, dialect: CsvDialect = STANDARD) -> None:
    """communes.csv/.parquet/.geojson, carte.html and summary.json, all or nothing; the CSV
    in ``dialect`` (the Parquet keeps full precision)."""
    table = diagnosis.communes
    with atomic_directory(out) as tmp:
        flat = pa.Table.from_pandas(table[CSV_COLUMNS], preserve_index=False)
        pq.write_table(flat, tmp / "communes.parquet")
        write_csv(table[CSV_COLUMNS], tmp / "communes.csv", dialect)
        (tmp / "communes.geojson").write_text(geojson(table, diagnosis.synthetic), encoding="utf-8")
        (tmp / "carte.html").write_text(choropleth_html(table, diagnosis.summary), encoding="utf-8")
        (tmp / "summary.json").write_text(
            to_json(diagnosis.summary),
            encoding="utf-8",
        )


def geojson(table: pd.DataFrame, synthetic: bool) -> str:
    """A FeatureCollection of commune polygons (WGS84) carrying the CSV columns."""
    rows = features(polygons(table.geometry), table[CSV_COLUMNS])
    return feature_collection(
        rows, "SYNTHETIC supply — not real practitioners" if synthetic else None
    )
