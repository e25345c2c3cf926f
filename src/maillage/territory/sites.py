"""The user's list of sites (``id,name,code_commune[,lon,lat][,cost]``): the format of
planning candidates and existing sites (``--candidates csv:``, ``--existing``) and of registered
``sites`` datasets. It is the user's own file: any bad value is an :class:`InputError` naming its
line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from maillage.errors import InputError
from maillage.tabular import fail_at, read_csv_strings
from maillage.territory.codes import CommuneResolver

SITE_COLUMNS = ["site_id", "name", "code_commune", "lon", "lat", "cost"]
REQUIRED = ("id", "name", "code_commune")
FILE_COLUMNS = [*REQUIRED, "lon", "lat"]


@dataclass(frozen=True)
class Sites:
    """Candidate or existing sites (``SITE_COLUMNS``) and where they came from."""

    table: pd.DataFrame
    source: str
    notes: list[str] = field(default_factory=list)

    def provenance(self) -> dict:
        """The JSON-ready description ``summary.json`` keeps under ``inputs``."""
        return {"source": self.source, "sites": len(self.table), "notes": self.notes}


def write_sites_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    """``rows`` (``FILE_COLUMNS``; ``lon``, ``lat`` may be blank) as the file
    :func:`load_sites_csv` reads: how sites read elsewhere reach ``--existing``."""
    pd.DataFrame(rows, columns=FILE_COLUMNS).to_csv(path, index=False)
    return path


def load_sites_csv(path: Path, communes: pd.DataFrame) -> Sites:
    """The user's sites ``id,name,code_commune[,lon,lat][,cost]``; any bad value is an error.

    Without ``lon,lat`` (or with both empty on a row) a site takes its commune's point; codes
    of arrondissements or merged communes are mapped to the current commune.
    """
    path = Path(path)
    table = read_csv_strings(path, REQUIRED)
    for column in ("lon", "lat"):
        if {"lon", "lat"} & set(table.columns) and column not in table.columns:
            raise InputError(
                path, "colonne manquante : lon et lat vont ensemble", line=1, column=column
            )
    fail_at(path, table["id"].eq(""), "id", "valeur manquante", table["id"])
    fail_at(path, table["id"].duplicated(), "id", "identifiant en double", table["id"])
    codes = pd.Series(commune_resolver().resolve(table["code_commune"]), index=table.index)
    unknown = ~codes.isin(communes.code_commune)
    fail_at(path, unknown, "code_commune", "code commune inconnu", table["code_commune"])
    point = communes.set_index("code_commune")[["lon", "lat"]].reindex(codes)
    lon, lat = point.lon.to_numpy(), point.lat.to_numpy()
    if "lon" in table:
        given = table["lon"].ne("") | table["lat"].ne("")
        x = _numbers(path, table, "lon", given, -180.0, 180.0)
        y = _numbers(path, table, "lat", given, -90.0, 90.0)
        lon, lat = np.where(given, x, lon), np.where(given, y, lat)
    where = pd.Series(np.isnan(lon) | np.isnan(lat), index=table.index)
    fail_at(path, where, "code_commune", "commune sans position : donner lon,lat", codes)
    cost = np.full(len(table), np.nan)
    if "cost" in table:
        cost = _numbers(path, table, "cost", pd.Series(True, index=table.index), 0.0, np.inf)
    sites = pd.DataFrame(
        {
            "site_id": table["id"],
            "name": table["name"],
            "code_commune": codes,
            "lon": lon,
            "lat": lat,
            "cost": cost,
        }
    )
    return Sites(sites, f"csv:{path}")


@cache
def commune_resolver() -> CommuneResolver:
    """Built once per process: candidates and existing sites both need it (~1 s to build)."""
    return CommuneResolver()


def _numbers(
    path: Path, table: pd.DataFrame, column: str, needed: pd.Series, low: float, high: float
) -> np.ndarray:
    """A numeric column, every ``needed`` row a number in [low, high]."""
    raw = table[column]
    fail_at(path, needed & raw.eq(""), column, "valeur manquante", raw)
    number = pd.to_numeric(raw.where(raw.ne("")), errors="coerce")
    fail_at(path, raw.ne("") & number.isna(), column, "pas un nombre", raw)
    fail_at(path, (number < low) | (number > high), column, f"hors de [{low:g} ; {high:g}]", raw)
    return number.to_numpy(dtype=float)
