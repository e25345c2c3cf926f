"""The synthetic practitioner set: deterministic, calibrated, denser in towns, labelled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from maillage.territory.synthetic import (
    DENSITY_PER_100K,
    POLE_ATTRACTION,
    served_population,
    synthetic_practitioners,
)


@pytest.fixture(scope="module")
def gps(communes: pd.DataFrame):
    return synthetic_practitioners(communes)


def test_same_seed_same_set(communes: pd.DataFrame, gps) -> None:
    pd.testing.assert_frame_equal(synthetic_practitioners(communes).table, gps.table)
    other = synthetic_practitioners(communes, seed=7).table
    assert not other["code_commune"].equals(gps.table["code_commune"])


@pytest.mark.parametrize("profession", sorted(DENSITY_PER_100K))
def test_national_density(communes: pd.DataFrame, profession: str) -> None:
    supply = synthetic_practitioners(communes, profession)
    density = supply.table["fte"].sum() / communes["population"].sum() * 100_000
    assert density == pytest.approx(DENSITY_PER_100K[profession], rel=0.03)
    assert supply.synthetic and supply.format == "synthetic" and supply.path is None
    assert "SYNTHETIC" in supply.notes[0]


def test_denser_in_towns(communes: pd.DataFrame, gps) -> None:
    count = gps.table.groupby("code_commune").size().reindex(communes["code_commune"])
    population = communes.set_index("code_commune")["population"]
    towns = population >= 50_000
    villages = population < 2_000
    town_density = count[towns].sum() / population[towns].sum()
    village_density = count[villages].sum() / population[villages].sum()
    assert town_density > 1.5 * village_density


def test_plausible_ages_and_activity(gps) -> None:
    table = gps.table
    assert table["age"].between(25, 75).all()
    assert 45 <= table["age"].mean() <= 55
    assert 4_000 <= table["activity"].median() <= 6_000
    assert np.isfinite(table["activity"]).all()


def _places(population: list[float], x_km: list[float]) -> pd.DataFrame:
    """Communes on a line (Lambert-93 metres), 1 km² each."""
    n = len(population)
    return pd.DataFrame(
        {
            "code_commune": [f"5500{i}" for i in range(n)],
            "departement": "55",
            "population": population,
            "x": [700_000 + 1000 * k for k in x_km],
            "y": 6_850_000.0,
            "zone": 2154,
            "lon": 5.0,
            "lat": 49.0,
            "area_km2": 1.0,
        }
    )


def test_a_village_next_to_a_town_is_served_by_the_town() -> None:
    # Town and village 3 km apart (3.9 min), an identical village 100 km away.
    communes = _places([20_000.0, 500.0, 500.0], [0.0, 3.0, 100.0])
    served = served_population(communes)
    village_share = 500**POLE_ATTRACTION / (500**POLE_ATTRACTION + 20_000**POLE_ATTRACTION)
    np.testing.assert_allclose(
        served,
        [20_500 * (1 - village_share), 20_500 * village_share, 500.0],
    )


def test_served_population_is_the_national_population(communes: pd.DataFrame) -> None:
    served = served_population(communes.sort_values("code_commune").reset_index(drop=True))
    assert served.sum() == pytest.approx(communes["population"].sum(), rel=1e-9)
    assert (served >= 0).all()
