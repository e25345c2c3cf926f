"""FINESS numbers: layout and Luhn key, on real numbers and hand-worked cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from maillage.care.identifiers import validate_finess

FIXTURE = Path(__file__).parents[1] / "territory" / "data" / "etalab-cs1100507-stock-sample.csv"


@pytest.mark.parametrize("number", ["010000024", "010780054", "970100012", "970100103"])
def test_real_finess_numbers_are_accepted(number: str) -> None:
    # CH de Fleyriat and Polyclinique de la Guadeloupe (ET and EJ), as the registry lists them.
    validate_finess(number)


def test_hand_worked_key() -> None:
    # 010000024 read from the right: the key 4, then 2 0 0 0 0 0 1 0. Luhn doubles every second
    # digit left of the key: 2 -> 4, 0, 0, 1 -> 2; the others (0 0 0 0) add nothing. Sum 6,
    # key = (10 - 6) mod 10 = 4.
    validate_finess("010000024")
    with pytest.raises(ValueError, match="Luhn expects 4"):
        validate_finess("010000025")


def test_every_numeric_number_of_the_fixture_extract_has_a_valid_key() -> None:
    numbers = set()
    for line in FIXTURE.read_text(encoding="latin-1").splitlines():
        fields = line.split(";")
        if fields[0] == "structureet":
            numbers.update(fields[1:3])
    assert len(numbers) == 12
    for number in numbers:
        validate_finess(number)


@pytest.mark.parametrize("number", ["2A0000011", "2B0000036"])
def test_corsican_numbers_are_checked_for_layout(number: str) -> None:
    validate_finess(number)


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("01000002", "9 characters"),
        ("0100000245", "9 characters"),
        ("2C0000011", "department code"),
        ("2A00000X1", "7 digits"),
        ("010000 24", "7 digits"),
        ("970100013", "check digit 3"),
    ],
)
def test_bad_numbers_are_refused_with_the_reason(number: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        validate_finess(number)
