"""The files a diagnosis leaves in its output directory, written atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from maillage.diagnosis.pipeline import Diagnosis
from maillage.diagnosis.territories import territory_keys
from maillage.reports.atomic import atomic_directory
from maillage.reports.choropleth import choropleth_html
from maillage.reports.geojson import feature_collection, features, polygons
from maillage.reports.serialise import to_json
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


def write_outputs(
    diagnosis: Diagnosis,
    out: Path,
    dialect: CsvDialect = STANDARD,
    by: str | None = None,
) -> None:
    """communes.csv/.parquet/.geojson, territories.csv, carte.html and summary.json, all or
    nothing; the CSV in ``dialect`` (the Parquet keeps full precision). With ``by`` (a level
    of :data:`~maillage.diagnosis.territories.LEVELS`) the map also shows those territories."""
    table = diagnosis.communes
    territories = territory_map_table(diagnosis, by) if by else None
    with atomic_directory(out) as tmp:
        flat = pa.Table.from_pandas(table[CSV_COLUMNS], preserve_index=False)
        pq.write_table(flat, tmp / "communes.parquet")
        write_csv(table[CSV_COLUMNS], tmp / "communes.csv", dialect)
        write_csv(diagnosis.territories, tmp / "territories.csv", dialect)
        (tmp / "communes.geojson").write_text(geojson(table, diagnosis.synthetic), encoding="utf-8")
        (tmp / "carte.html").write_text(
            choropleth_html(table, diagnosis.summary, territories), encoding="utf-8"
        )
        (tmp / "summary.json").write_text(
            to_json(diagnosis.summary),
            encoding="utf-8",
        )


def territory_map_table(diagnosis: Diagnosis, level: str) -> pd.DataFrame:
    """The territories of ``level`` as map rows: their results, their dissolved outline and
    the department whose panel shows them (an overseas EPCI or region in its own panel)."""
    communes = diagnosis.communes
    keys = territory_keys(communes, level)
    rows = diagnosis.territories[diagnosis.territories.level == level].set_index("code")
    outlines = dissolve(communes.geometry, keys)
    panel = communes.departement.groupby(keys.to_numpy()).first()
    return rows.assign(
        code_commune=rows.index,
        departement=panel.reindex(rows.index).to_numpy(),
        geometry=outlines.reindex(rows.index).to_numpy(),
    ).reset_index(drop=True)


def geojson(table: pd.DataFrame, synthetic: bool) -> str:
    """A FeatureCollection of commune polygons (WGS84) carrying the CSV columns."""
    rows = features(polygons(table.geometry), table[CSV_COLUMNS])
    return feature_collection(
        rows, "SYNTHETIC supply — not real practitioners" if synthetic else None
    )
