"""FINESS extract: INSEE codes from its department/commune fields, coordinates to WGS84.

Expected positions are derived without pyproj: the Lambert-93 false origin (700 000 m,
6 600 000 m) is by definition 3°E 46.5°N, and the UTM points are computed with the Krüger
series in ``geodesy.py``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from geodesy import utm_forward

from maillage.errors import InputError
from maillage.territory.finess import load_finess

DATA = Path(__file__).parent / "data"

SAMPLE = DATA / "etalab-cs1100507-stock-sample.csv"
ABYMES = (-61.5040, 16.2700)  # Polyclinique de la Guadeloupe, UTM 20N
SAINT_DENIS = (55.4440, -20.8920)  # CHU Félix Guyon, UTM 40S


@pytest.fixture(scope="module")
def facilities() -> pd.DataFrame:
    return load_finess(SAMPLE).set_index("finess")


def test_commune_codes_from_department_and_commune_fields(facilities: pd.DataFrame) -> None:
    assert facilities["code_commune"].to_dict() == {
        "010000024": "01053",
        "030000004": "03003",
        "2A0001012": "2A004",
        "970100012": "97101",
        "970400016": "97411",
        "670000116": "67482",
    }
    assert facilities.loc["010000024", "name"] == "CENTRE HOSPITALIER DE BOURG-EN-BRESSE FLEYRIAT"
    assert facilities.loc["2A0001012", "name"] == "PHARMACIE DU COURS"  # no long name
    assert facilities.loc["030000004", "category_label"].startswith("Etablissement d'hébergement")


def test_lambert93_origin(facilities: pd.DataFrame) -> None:
    row = facilities.loc["030000004"]
    assert (row["lon"], row["lat"]) == pytest.approx((3.0, 46.5), abs=1e-9)


@pytest.mark.parametrize(
    ("finess", "lon_lat", "zone", "south"),
    [("970100012", ABYMES, 20, False), ("970400016", SAINT_DENIS, 40, True)],
)
def test_utm_zones(facilities, finess, lon_lat, zone, south) -> None:
    row = facilities.loc[finess]
    # the fixture's coordinates are the independent projection, rounded to 0.1 m
    easting, northing = utm_forward(*lon_lat, zone=zone, south=south)
    geo = SAMPLE.read_text(encoding="latin-1").split(f"geolocalisation;{finess};")[1]
    assert [float(v) for v in geo.split(";")[:2]] == pytest.approx([easting, northing], abs=0.06)
    assert (row["lon"], row["lat"]) == pytest.approx(lon_lat, abs=1e-6)


def test_missing_geolocation_and_category_filter(facilities: pd.DataFrame) -> None:
    assert facilities.loc["670000116", ["lon", "lat"]].isna().all()
    chosen = load_finess(SAMPLE, categories=[124, "620"])
    assert chosen["finess"].tolist() == ["2A0001012", "670000116"]


def test_utf8_release_reads_the_same(tmp_path: Path, facilities: pd.DataFrame) -> None:
    path = tmp_path / "utf8.csv"
    path.write_text(SAMPLE.read_text(encoding="latin-1"), encoding="utf-8")
    pd.testing.assert_frame_equal(load_finess(path).set_index("finess"), facilities)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "fichier vide"),
        ("nofinesset,coordxet\n", "mauvais séparateur"),
        ("foo;bar\nstructureet;1\n", "pas une extraction FINESS"),
        (
            "finess;etalab;39;2024-07-02\ngeolocalisation;1;2;3;LAMBERT_93;x\n",
            "aucune ligne 'structureet'",
        ),
    ],
)
def test_bad_files(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "finess.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=reason):
        load_finess(path)
