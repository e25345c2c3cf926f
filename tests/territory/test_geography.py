"""Region and department lookup from what a planner types."""

from __future__ import annotations

import pytest

from maillage.territory.geography import (
    departements,
    regions,
    resolve_departement,
    resolve_region,
)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("44", "44"),
        ("Grand Est", "44"),
        ("grand-est", "44"),
        ("GRAND EST", "44"),
        ("Provence-Alpes-Côte d'Azur", "93"),
        ("provence alpes cote d azur", "93"),
        ("île-de-france", "11"),
        ("La Réunion", "04"),
    ],
)
def test_resolve_region(text: str, code: str) -> None:
    assert resolve_region(text) == code


@pytest.mark.parametrize(
    ("text", "code"),
    [("2a", "2A"), ("Corse-du-Sud", "2A"), ("971", "971"), ("val d'oise", "95"), ("01", "01")],
)
def test_resolve_departement(text: str, code: str) -> None:
    assert resolve_departement(text) == code


def test_unknown_names_list_the_choices() -> None:
    with pytest.raises(ValueError, match=r"région inconnue 'Gaule'.*44 \(Grand Est\)"):
        resolve_region("Gaule")
    with pytest.raises(ValueError, match=r"département inconnu '20'.*2B \(Haute-Corse\)"):
        resolve_departement("20")


def test_tables() -> None:
    assert len(regions()) == 18
    deps = departements()
    assert len(deps) == 101
    assert deps.set_index("code").loc["2A", "region"] == "94"
