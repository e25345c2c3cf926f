"""Arrondissements, merged communes and postcodes land on the current commune."""

from __future__ import annotations

import numpy as np
import pytest

from maillage.territory.codes import CommuneResolver


def test_arrondissements_map_to_their_city(resolver: CommuneResolver) -> None:
    paris = [f"751{i:02d}" for i in range(1, 21)]
    lyon = [f"6938{i}" for i in range(1, 10)]
    marseille = [f"132{i:02d}" for i in range(1, 17)]
    assert set(resolver.resolve(paris)) == {"75056"}
    assert set(resolver.resolve(lyon)) == {"69123"}
    assert set(resolver.resolve(marseille)) == {"13055"}


def test_current_merged_unknown_and_damaged_codes(resolver: CommuneResolver) -> None:
    result = resolver.resolve(["2A004", "67007", "01015", "1001", " 67482 ", "99999", ""])
    # 67007 Altenstadt is associated with Wissembourg; 01015 is both a delegated commune and
    # the current commune Arboys en Bugey (the current one wins); "1001" lost its zero.
    np.testing.assert_array_equal(result, ["2A004", "67544", "01015", "01001", "67482", "", ""])


def test_postcodes_naming_one_commune(resolver: CommuneResolver) -> None:
    position, commune, share = resolver.postcode_shares(["67000", "75015", "13001", "GL", ""])
    # arrondissements' postcodes name their city; GL is a foreign postcode, "" none
    np.testing.assert_array_equal(position, [0, 1, 2])
    np.testing.assert_array_equal(commune, ["67482", "75056", "13055"])
    np.testing.assert_array_equal(share, [1.0, 1.0, 1.0])


def test_a_shared_postcode_is_split_by_population(resolver: CommuneResolver, communes) -> None:
    position, commune, share = resolver.postcode_shares(["55100", "01400"])
    assert share[position == 0].sum() == pytest.approx(1.0)
    assert share[position == 1].sum() == pytest.approx(1.0)
    served = commune[position == 1]
    assert len(served) > 5 and "01093" in served  # 01400 serves Châtillon-sur-Chalaronne and more
    population = communes.set_index("code_commune")["population"].reindex(served).to_numpy()
    np.testing.assert_allclose(share[position == 1], population / population.sum())
