"""Territories add up to the communes: every level's sums equal the commune table's."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maillage.access import zoning
from maillage.diagnosis.territories import LEVELS, aggregate, all_levels

THRESHOLDS = (2.5, 4.0)


@st.composite
def commune_tables(draw):
    n = draw(st.integers(1, 40))
    values = st.floats(0, 10) | st.just(np.nan)
    population = draw(st.lists(st.floats(0, 1e5) | st.just(np.nan), min_size=n, max_size=n))
    access = draw(st.lists(values, min_size=n, max_size=n))
    departement = draw(st.lists(st.sampled_from(["55", "57", "971"]), min_size=n, max_size=n))
    epci = draw(st.lists(st.sampled_from(["200000001", "200000002", None]), min_size=n, max_size=n))
    older = draw(st.lists(st.floats(0, 3), min_size=n, max_size=n))
    table = pd.DataFrame(
        {
            "code_commune": [f"{i:05d}" for i in range(n)],
            "nom": [f"Commune {i}" for i in range(n)],
            "departement": departement,
            "region": ["01" if d == "971" else "44" for d in departement],
            "epci": epci,
            "population": population,
            "demand": np.nan_to_num(population),
            "supply": draw(st.lists(st.floats(0, 50), min_size=n, max_size=n)),
            "access": access,
            "no_care": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
            "fte_aged_60_plus": older,
            "fte_age_known": np.array(older) * 2,
        }
    )
    table["classe"] = zoning.classify(table.access.to_numpy(), THRESHOLDS)
    return table


@settings(max_examples=80, deadline=None)
@given(commune_tables())
def test_every_level_sums_to_the_commune_table(table):
    population = table.population.fillna(0)
    territories = all_levels(table, table, THRESHOLDS)
    for level in LEVELS:
        rows = territories[territories.level == level]
        assert rows.communes.sum() == len(table)
        assert rows.complete.all()
        assert rows.population.sum() == pytest.approx(population.sum())
        assert rows.supply.sum() == pytest.approx(table.supply.sum())
        assert rows.population_no_care.sum() == pytest.approx(population[table.no_care].sum())
        for name in zoning.CLASSES:
            column = "population_" + name.replace("-", "_")
            assert rows[column].sum() == pytest.approx(population[table.classe == name].sum())
        classified = rows[[f"population_{c.replace('-', '_')}" for c in zoning.CLASSES]]
        unclassified = rows.population_non_classee
        assert (classified.sum(axis=1) + unclassified).to_numpy() == pytest.approx(
            rows.population.to_numpy()
        )


@settings(max_examples=40, deadline=None)
@given(commune_tables())
def test_weighted_access_of_one_territory_is_the_population_weighted_mean(table):
    table = table.assign(departement="55", region="44")
    (row,) = aggregate(table, "region", table, THRESHOLDS).itertuples()
    valued = table.access.notna() & (table.population.fillna(0) > 0)
    if valued.any():
        expected = np.average(table.access[valued], weights=table.population[valued])
        assert row.access == pytest.approx(expected)
        assert row.classe == zoning.classify(np.array([expected]), THRESHOLDS)[0]
    else:
        assert np.isnan(row.access)
    assert row.share_fte_aged_60_plus == pytest.approx(0.5) or table.fte_aged_60_plus.sum() == 0


def test_a_territory_partly_outside_the_area_is_marked_incomplete():
    national = pd.DataFrame(
        {"code_commune": ["1", "2", "3"], "epci": ["200000001"] * 3, "nom": ["a", "b", "c"]}
    )
    table = national.iloc[:2].assign(
        departement="55",
        region="44",
        population=[10.0, 20.0],
        demand=[10.0, 20.0],
        supply=[1.0, 0.0],
        access=[3.0, 1.0],
        classe=["intermediaire", "sous-dotee"],
        no_care=[False, True],
        fte_aged_60_plus=[0.0, 0.0],
        fte_age_known=[0.0, 0.0],
    )
    (row,) = aggregate(table, "epci", national, THRESHOLDS).itertuples()
    assert not row.complete and row.communes == 2
    assert row.access == pytest.approx((3 * 10 + 1 * 20) / 30)
    assert np.isnan(row.share_fte_aged_60_plus)  # no age known: no share, not 0
