"""Arrondissements, merged communes and postcodes land on the current commune."""

from __future__ import annotations

import numpy as np

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
    result = resolver.from_postcode(["67000", "75015", "13001", "01400", "GL", ""])
    # 01400 serves several communes; GL is a foreign postcode.
    np.testing.assert_array_equal(result, ["67482", "75056", "13055", "", "", ""])
