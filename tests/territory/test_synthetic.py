"""The synthetic practitioner set: deterministic, calibrated, denser in towns, labelled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from maillage.territory.synthetic import DENSITY_PER_100K, synthetic_practitioners


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
