"""Loader for the FINESS facility extract ``etalab-cs1100507-stock-*.csv``.

The file mixes sections: ``structureet`` rows describe a facility, ``geolocalisation`` rows give
its coordinates, in Lambert-93 in metropolitan France and in the local UTM zone overseas, named by
the last item of ``sourcecoordet`` (e.g. ``1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93`` or
``…,UTM_N20``). The department field holds "9A".."9F" overseas, where the INSEE code is "97"
followed by the 3-digit commune field (9A + 101 → 97101 Les Abymes).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj

from maillage.errors import InputError

STRUCTURE_FIELDS = [
    "section", "nofinesset", "nofinessej", "rs", "rslongue", "complrs", "compldistrib", "numvoie",
    "typvoie", "voie", "compvoie", "lieuditbp", "commune", "departement", "libdepartement",
    "ligneacheminement", "telephone", "telecopie", "categetab", "libcategetab", "categagretab",
    "libcategagretab", "siret", "codeape", "codemft", "libmft", "codesph", "libsph", "dateouv",
    "dateautor", "datemaj",
]  # fmt: skip
GEO_FIELDS = ["section", "nofinesset", "coordxet", "coordyet", "sourcecoordet", "datemaj"]
# Projection names used in ``sourcecoordet``, with the EPSG code of each national frame.
PROJECTIONS = {
    "LAMBERT_93": 2154,  # RGF93 / Lambert-93
    "UTM_N20": 5490,  # RGAF09 / UTM 20N: Guadeloupe, Martinique, Saint-Barthélemy, Saint-Martin
    "UTM_N21": 4467,  # RGSPM06 / UTM 21N: Saint-Pierre-et-Miquelon
    "UTM_N22": 2972,  # RGFG95 / UTM 22N: Guyane
    "UTM_S38": 4471,  # RGM04 / UTM 38S: Mayotte
    "UTM_S40": 2975,  # RGR92 / UTM 40S: La Réunion
}
COLUMNS = ["finess", "name", "code_commune", "category", "category_label", "lon", "lat"]


def _lines(path: Path) -> list[str]:
    """The file's lines, UTF-8 when it decodes as such, latin-1 (older releases) otherwise."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InputError(path, "fichier vide : première ligne finess;etalab;… attendue", line=1)
    if not lines[0].startswith("finess;"):
        reason = "pas une extraction FINESS : la première ligne doit commencer par 'finess;etalab'"
        if ";" not in lines[0]:
            reason = "mauvais séparateur : l'extraction FINESS est séparée par ';'"
        raise InputError(path, reason, line=1)
    if len(lines) < 2:
        raise InputError(path, "aucune ligne après la première", line=2)
    return lines[1:]


def _section(rows: pd.DataFrame, name: str, fields: list[str]) -> pd.DataFrame:
    """The rows of one section, named; short rows are padded with empty fields."""
    part = rows[rows[0] == name].reindex(columns=range(len(fields)))
    part.columns = fields
    return part.astype(object).fillna("").apply(lambda column: column.astype(str).str.strip())


def _lon_lat(geo: pd.DataFrame) -> pd.DataFrame:
    """WGS84 longitude and latitude of each geolocation row, NaN for an unknown projection."""
    x = pd.to_numeric(geo["coordxet"], errors="coerce").to_numpy()
    y = pd.to_numeric(geo["coordyet"], errors="coerce").to_numpy()
    projection = geo["sourcecoordet"].str.rsplit(",", n=1).str[-1].str.strip().str.upper()
    epsg = projection.map(PROJECTIONS).to_numpy()
    lon = np.full(len(geo), np.nan)
    lat = np.full(len(geo), np.nan)
    for code in pd.unique(epsg[pd.notna(epsg)]):
        rows = epsg == code
        to_wgs84 = pyproj.Transformer.from_crs(int(code), 4326, always_xy=True)
        lon[rows], lat[rows] = to_wgs84.transform(x[rows], y[rows])
    return pd.DataFrame({"finess": geo["nofinesset"].to_numpy(), "lon": lon, "lat": lat})


def load_finess(path: str | Path, categories: Iterable[str | int] | None = None) -> pd.DataFrame:
    """Facilities with their INSEE commune code and WGS84 position, optionally by category.

    ``categories`` are ``categetab`` codes (355 centre hospitalier, 500 EHPAD, 620 pharmacie
    d'officine, 124 centre de santé…); facilities without geolocation keep NaN coordinates.
    """
    path = Path(path)
    rows = pd.Series(_lines(path)).str.split(";", expand=True)
    structures = _section(rows, "structureet", STRUCTURE_FIELDS)
    if structures.empty:
        raise InputError(
            path, "aucune ligne 'structureet' : pas une extraction FINESS des établissements"
        )
    if categories is not None:
        wanted = [str(c) for c in categories]
        structures = structures[structures["categetab"].isin(wanted)]
    departement = structures["departement"].str.zfill(2)
    commune = structures["commune"].str.zfill(3)
    overseas = departement.str.fullmatch(r"9[A-Z]")
    table = pd.DataFrame(
        {
            "finess": structures["nofinesset"],
            "name": structures["rslongue"].where(structures["rslongue"].ne(""), structures["rs"]),
            "code_commune": ("97" + commune).where(overseas, departement + commune),
            "category": structures["categetab"],
            "category_label": structures["libcategetab"],
        }
    )
    geo = _lon_lat(_section(rows, "geolocalisation", GEO_FIELDS)).drop_duplicates("finess")
    return table.merge(geo, on="finess", how="left")[COLUMNS].reset_index(drop=True)


def finess_numbers(path: str | Path) -> pd.DataFrame:
    """Every establishment's ``nofinesset`` and ``nofinessej`` with its line in the file
    (``line``, ``field``, ``number``), to check them one by one."""
    path = Path(path)
    rows = pd.Series(_lines(path)).str.split(";", expand=True)
    structures = _section(rows, "structureet", STRUCTURE_FIELDS)
    if structures.empty:
        raise InputError(
            path, "aucune ligne 'structureet' : pas une extraction FINESS des établissements"
        )
    fields = ["nofinesset", "nofinessej"]
    numbers = structures[fields].assign(line=structures.index + 2)  # after the metadata line
    numbers = numbers.melt("line", fields, "field", "number").sort_values(["line", "field"])
    return numbers[numbers["number"] != ""]
