"""The user's own supply CSV: good rows kept as given, bad ones named by line and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from maillage.errors import InputError
from maillage.territory.supply_csv import load_supply_csv

DATA = Path(__file__).parent / "data"

KNOWN = ["01001", "01053", "2A004", "67482"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "supply.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_rows_of_the_profession_with_codes_as_strings() -> None:
    supply = load_supply_csv(DATA / "supply.csv", "generaliste", KNOWN)
    table = supply.table
    assert table["code_commune"].tolist() == ["01001", "2A004", "67482", "01053"]
    assert table["fte"].tolist() == [1.0, 0.5, 2.5, 1.0]
    np.testing.assert_array_equal(table["age"], [54, np.nan, 63, 38])
    np.testing.assert_array_equal(table["activity"], [4200, np.nan, 5100, 3900])
    assert (supply.format, supply.synthetic) == ("csv", False)
    assert supply.notes == ["1 lignes d'autres professions écartées"]


def test_minimal_columns(tmp_path: Path) -> None:
    supply = load_supply_csv(write(tmp_path, "code_commune,fte\n2A004,3\n"), "dentiste", KNOWN)
    assert supply.table["fte"].tolist() == [3.0]
    assert supply.table["age"].isna().all()


@pytest.mark.parametrize(
    ("text", "line", "column", "reason"),
    [
        ("code_commune,fte\n01001,1\n99999,1\n", 3, "code_commune", "code commune inconnu"),
        ("code_commune,fte\n01001,un\n", 2, "fte", "pas un nombre : 'un'"),
        ("code_commune,fte,age\n01001,1,40\n01001,1,quarante\n", 3, "age", "pas un nombre"),
        ("code_commune,fte,activity\n01001,1,4 000\n", 2, "activity", "pas un nombre"),
        ("code_commune,fte\n01001,-1\n", 2, "fte", "valeur négative"),
        ("code_commune,fte\n01001,\n", 2, "fte", "valeur manquante"),
        ("code_commune,fte,profession\n01001,1,medecin\n", 2, "profession", "profession inconnue"),
        ("code_commune,etp\n01001,1\n", 1, "fte", "colonne manquante"),
    ],
)
def test_errors_name_line_and_column(tmp_path, text, line, column, reason) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=reason) as error:
        load_supply_csv(path, "generaliste", KNOWN)
    assert (error.value.path, error.value.line, error.value.column) == (str(path), line, column)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "fichier vide"),
        ("code_commune;fte\n01001;1\n", "mauvais séparateur ';'"),
        ("code_commune,fte\n", "aucune ligne de données"),
    ],
)
def test_unreadable_files(tmp_path: Path, text: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        load_supply_csv(write(tmp_path, text), "generaliste", KNOWN)
