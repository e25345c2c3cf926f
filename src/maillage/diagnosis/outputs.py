"""The files a diagnosis leaves in its output directory, written atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
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


def write_outputs(diagnosis: Diagnosis, out: Path, *, overwrite: bool = False) -> None:
    """communes.csv/.parquet/.geojson, carte.html and summary.json, all or nothing (``out``
    new, or a previous diagnosis replaced with ``overwrite``)."""
    table = diagnosis.communes
    with atomic_directory(out, "diagnose", overwrite=overwrite) as tmp:
        flat = pa.Table.from_pandas(table[CSV_COLUMNS], preserve_index=False)
        pq.write_table(flat, tmp / "communes.parquet")
        pacsv.write_csv(
            rounded(flat), tmp / "communes.csv", pacsv.WriteOptions(quoting_style="needed")
        )
        (tmp / "communes.geojson").write_text(geojson(table, diagnosis.synthetic), encoding="utf-8")
        (tmp / "carte.html").write_text(choropleth_html(table, diagnosis.summary), encoding="utf-8")
        (tmp / "summary.json").write_text(
            to_json(diagnosis.summary),
            encoding="utf-8",
        )


def rounded(table: pa.Table, digits: int = 6) -> pa.Table:
    """Floats rounded for the CSV a person opens (the Parquet keeps full precision)."""
    columns = [
        pc.round(col, digits) if pa.types.is_floating(col.type) else col for col in table.columns
    ]
    return pa.Table.from_arrays(columns, names=table.column_names)


def geojson(table: pd.DataFrame, synthetic: bool) -> str:
    """A FeatureCollection of commune polygons (WGS84) carrying the CSV columns."""
    rows = features(polygons(table.geometry), table[CSV_COLUMNS])
    return feature_collection(
        rows, "SYNTHETIC supply — not real practitioners" if synthetic else None
    )
