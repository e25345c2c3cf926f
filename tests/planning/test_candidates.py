"""Candidate and existing sites: every source gives one table; the user's CSV fails precisely."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from maillage.errors import InputError
from maillage.planning.candidates import (
    commune_points,
    finess_sites,
    load_candidates,
    site_places,
    town_halls,
)
from maillage.territory.communes import communes_places, load_communes
from maillage.territory.sites import SITE_COLUMNS, load_sites_csv

FINESS_SAMPLE = (
    Path(__file__).parents[1] / "territory" / "data" / "etalab-cs1100507-stock-sample.csv"
)


@pytest.fixture(scope="module")
def communes() -> pd.DataFrame:
    return load_communes()


def write(tmp_path: Path, text: str, name: str = "sites.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_commune_points_are_the_located_communes(communes):
    sites = commune_points(communes)
    located = np.isfinite(communes.lon) & np.isfinite(communes.lat)
    assert list(sites.table.columns) == SITE_COLUMNS
    assert len(sites.table) == located.sum()
    assert (sites.table.site_id == sites.table.code_commune).all()
    assert sites.table.cost.isna().all()


def test_site_places_of_commune_points_match_the_communes_projection(communes):
    meuse = communes[communes.departement == "55"]
    places = site_places(commune_points(meuse).table, communes)
    expected = communes_places(meuse)
    np.testing.assert_allclose(places.x, expected.x, atol=1e-3)
    np.testing.assert_allclose(places.y, expected.y, atol=1e-3)
    assert (places.zone == expected.zone).all() and np.isnan(places.area_km2).all()


def test_town_halls_lie_in_their_commune(communes):
    halls = town_halls(communes).table.set_index("code_commune")
    assert halls.name.str.startswith("Mairie de ").all()
    located = communes[np.isfinite(communes.lon) & communes.geometry.notna()]
    hall = halls.loc[located.code_commune]
    polygons = shapely.from_wkb(located.geometry)
    assert shapely.dwithin(polygons, shapely.points(hall.lon, hall.lat), 0.0101).all()
    assert shapely.contains_xy(polygons, hall.lon, hall.lat).mean() > 0.95
    assert (hall.lon.to_numpy() != located.lon.to_numpy()).mean() > 0.9


def test_finess_keeps_the_site_categories_in_current_communes(communes):
    sites = finess_sites(FINESS_SAMPLE, communes).table.set_index("site_id")
    assert set(sites.index) == {"010000024", "030000004", "2A0001012", "670000116"}
    assert sites.loc["2A0001012", "code_commune"] == "2A004"
    # The health centre has no geolocation row: it takes its commune's point.
    strasbourg = communes.set_index("code_commune").loc["67482"]
    assert sites.loc["670000116", ["lon", "lat"]].tolist() == [strasbourg.lon, strasbourg.lat]
    assert "Centre de Santé" in sites.loc["670000116", "name"]


def test_finess_categories_are_chosen_after_the_file(communes):
    chosen = load_candidates(f"finess:{FINESS_SAMPLE}:620,365", communes)
    assert sorted(chosen.table.site_id) == ["2A0001012", "970100012"]  # Corsica, Guadeloupe
    assert chosen.notes[0].startswith("catégories 620 pharmacie d'officine, 365 Etablissement")
    with pytest.raises(ValueError, match="catégories FINESS à trois chiffres"):
        load_candidates(f"finess:{FINESS_SAMPLE}:pharmacies", communes)


def test_user_csv_positions_codes_and_costs(tmp_path, communes):
    path = write(
        tmp_path,
        "id,name,code_commune,lon,lat,cost\n"
        "s1,MSP Verdun,55545,5.38,49.16,120\n"
        "s2,Paris 1er,75101,,,80.5\n"
        "s3,Ambérieu,1004,,,0\n",
    )
    sites = load_sites_csv(path, communes).table.set_index("site_id")
    by_code = communes.set_index("code_commune")
    assert sites.loc["s1", ["lon", "lat"]].tolist() == [5.38, 49.16]
    assert sites.loc["s2", "code_commune"] == "75056"  # arrondissement → current commune
    assert sites.loc["s2", "lon"] == by_code.loc["75056", "lon"]
    assert sites.loc["s3", "code_commune"] == "01004"  # leading zero a spreadsheet dropped
    assert sites.cost.tolist() == [120.0, 80.5, 0.0]


def test_user_csv_without_coordinates_or_cost(tmp_path, communes):
    path = write(tmp_path, "id,name,code_commune\na,Verdun,55545\n")
    sites = load_sites_csv(path, communes).table
    assert sites.loc[0, "lon"] == communes.set_index("code_commune").loc["55545", "lon"]
    assert sites.cost.isna().all()


@pytest.mark.parametrize(
    ("text", "line", "column", "reason"),
    [
        ("", 1, None, "fichier vide"),
        ("id;name;code_commune\na;b;55545\n", 1, None, "mauvais séparateur"),
        ("id,code_commune\na,55545\n", 1, "name", "colonne manquante"),
        ("id,name,code_commune,lon\na,b,55545,5\n", 1, "lat", "colonne manquante"),
        ("id,name,code_commune\n", 2, None, "aucune ligne de données"),
        ("id,name,code_commune\na,b,55545\nb,c,99999\n", 3, "code_commune", "code commune inconnu"),
        ("id,name,code_commune\na,b,55545\na,c,55029\n", 3, "id", "identifiant en double"),
        ("id,name,code_commune\n,b,55545\n", 2, "id", "valeur manquante"),
        (
            "id,name,code_commune,lon,lat\na,b,55545,5.3,49\nb,c,55029,east,49\n",
            3,
            "lon",
            "pas un nombre",
        ),
        ("id,name,code_commune,lon,lat\na,b,55545,5.3,\n", 2, "lat", "valeur manquante"),
        ("id,name,code_commune,lon,lat\na,b,55545,5.3,95\n", 2, "lat", "hors de"),
        ("id,name,code_commune,cost\na,b,55545,-3\n", 2, "cost", "hors de"),
        ("id,name,code_commune,cost\na,b,55545,\n", 2, "cost", "valeur manquante"),
        ("id,name,code_commune\na,b,55545\nb,c,55029,extra\n", 3, None, "ligne mal formée"),
    ],
)
def test_bad_user_csv_names_file_line_and_column(tmp_path, communes, text, line, column, reason):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_sites_csv(path, communes)
    error = caught.value
    assert (error.path, error.line, error.column) == (str(path), line, column)
    assert reason in error.reason


def test_candidate_option_is_checked(communes):
    with pytest.raises(ValueError, match="--candidates doit valoir"):
        load_candidates("hospitals", communes)
    assert load_candidates("communes", communes).source == "communes"
