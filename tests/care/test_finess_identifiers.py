"""FINESS numbers: layout and Luhn key, on real numbers and hand-worked cases."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from maillage.care.identifiers import validate_finess
from maillage.cli import app
from maillage.datasets.catalogue import Catalogue

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


# Corsican numbers published in official acts: the annex of the arrêté du 4 mars 2015 (JORF,
# isolated hospitals: Clinique du sud de la Corse, CH Corte ET/EJ, CH Calvi ET/EJ) and ARS Corse
# acts listed in the Corse-du-Sud and Haute-Corse recueils des actes administratifs 2024-2025
# (hospitals' EJ, EHPAD ET).
PUBLISHED_CORSICAN = [
    *["2A0000154", "2B0004246", "2B0000038", "2B0005342", "2B0005359"],
    *["2A0000014", "2A0000170", "2A0000386", "2A0002606", "2A0000261", "2A0002051"],
    *["2B0000020", "2B0000442", "2B0003107", "2B0003057", "2B0004238", "2B0000939"],
    *["2B0003628", "2B0003073", "2B0000459", "2B0001341"],
]


@pytest.mark.parametrize("number", PUBLISHED_CORSICAN)
def test_published_corsican_numbers_are_accepted(number: str) -> None:
    validate_finess(number)


def test_hand_worked_corsican_key() -> None:
    # 2A0000014 (CH d'Ajaccio): A counts 1, so the Luhn digits are 2 1 0 0 0 0 0 1, key 4. From
    # the right, 1 -> 2 (doubled), 0, 0, 0, 0, 0, 1 -> 2 (doubled), 2: sum 6, key (10 - 6) = 4.
    # 2A → 20 (sum 4, key 6) or the NIR's 2A → 19 (9 -> 18 -> 9, plus 1 and 2: sum 12, key 8)
    # would refuse it.
    validate_finess("2A0000014")
    with pytest.raises(ValueError, match="Luhn expects 4"):
        validate_finess("2A0000016")
    # 2B0000020 (CH de Bastia): B counts 2, doubled to 4; with the 2 left of the key doubled to
    # 4 and the leading 2: sum 10, key 0.
    with pytest.raises(ValueError, match="Luhn expects 0"):
        validate_finess("2B0000021")


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("01000002", "9 characters"),
        ("0100000245", "9 characters"),
        ("2C0000011", "department code"),
        ("2A00000X1", "7 digits"),
        ("2A0000011", "check digit 1"),
        ("010000 24", "7 digits"),
        ("970100013", "check digit 3"),
    ],
)
def test_bad_numbers_are_refused_with_the_reason(number: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        validate_finess(number)


def test_every_number_of_a_registered_finess_dataset_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``maillage sites check-finess --finess dataset:ID`` reads every ET and EJ number of the
    registered extract; a wrong key is named with its line and the command exits 1."""
    monkeypatch.setenv("MAILLAGE_FILES_DIR", str(tmp_path / "files"))
    dataset, _ = Catalogue().add(FIXTURE, "finess")
    checked = CliRunner().invoke(
        app, ["sites", "check-finess", "--finess", f"dataset:{dataset.id}"]
    )
    assert checked.exit_code == 0, checked.output
    assert "12 numéros FINESS vérifiés, 0 refusés" in checked.output
    text = FIXTURE.read_bytes().replace(b";010780054;", b";010780055;", 1)
    broken = tmp_path / "etalab-cs1100507-stock-broken.csv"
    broken.write_bytes(text)
    refused = CliRunner().invoke(app, ["sites", "check-finess", "--finess", str(broken)])
    assert refused.exit_code == 1
    assert f"{broken}:2: nofinessej '010780055' : FINESS check digit 5 is wrong" in refused.output
    assert "12 numéros FINESS vérifiés, 1 refusés" in refused.output
