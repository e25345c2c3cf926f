"""The Annuaire Santé loader on a hand-made extract with the real header."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from maillage.errors import InputError
from maillage.territory.annuaire import load_annuaire
from maillage.territory.codes import CommuneResolver

DATA = Path(__file__).parent / "data"

SAMPLE = DATA / "PS_LibreAcces_Personne_activite_sample.txt"


def fte_by_commune(table: pd.DataFrame) -> dict[str, float]:
    return table.groupby("code_commune")["fte"].sum().to_dict()


def rewrite(tmp_path: Path, keep) -> Path:
    """A copy of the sample with only the header and the lines ``keep`` accepts."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "extract.txt"
    path.write_text("\n".join([lines[0], *filter(keep, lines[1:])]) + "\n", encoding="utf-8")
    return path


def test_general_practitioners(resolver: CommuneResolver) -> None:
    supply = load_annuaire(SAMPLE, resolver=resolver)
    fte = fte_by_commune(supply.table)
    assert supply.table["fte"].sum() == pytest.approx(21.0)  # 22 GPs, one abroad
    assert fte["57463"] == pytest.approx(0.5)  # three rows, two communes: split once
    assert fte["67482"] == pytest.approx(1.5)  # half of the first, all of the postcode-only one
    assert fte["75056"] == 1.0  # Paris 15e arrondissement code
    assert fte["69123"] == 1.0  # salaried in a centre de santé, Lyon 3e
    assert fte["67544"] == 1.0  # associated commune Altenstadt → Wissembourg
    assert "51454" in fte and fte["51454"] == 3.0  # the hospital salaried GP is not counted
    assert "54395" in fte and fte["54395"] == 3.0  # nor the cardiologist
    assert supply.table["age"].isna().all()
    assert (supply.format, supply.synthetic, supply.profession) == (
        "annuaire",
        False,
        "generaliste",
    )


def test_foreign_address_is_dropped_and_counted(resolver: CommuneResolver) -> None:
    supply = load_annuaire(SAMPLE, resolver=resolver)
    assert supply.dropped == [
        {
            "reason": "adresse à l'étranger",
            "count": 1,
            "practitioners": 1,
            "examples": ["810000000044: commune '', postcode 'GL', country '99132'"],
        }
    ]
    assert supply.to_summary()["dropped"] == supply.dropped


def test_other_professions_and_modes(resolver: CommuneResolver) -> None:
    nurses = load_annuaire(SAMPLE, profession="infirmier", resolver=resolver)
    assert fte_by_commune(nurses.table) == {"13055": 1.0}
    liberal_only = load_annuaire(SAMPLE, modes=("L",), resolver=resolver)
    assert "69123" not in fte_by_commune(liberal_only.table)


def test_too_many_dropped_is_an_error(tmp_path: Path, resolver: CommuneResolver) -> None:
    path = rewrite(tmp_path, lambda line: "|MARTIN|" not in line)  # drop the 16 fillers
    with pytest.raises(InputError, match=r"1 sur 6 praticiens \(16.7%\).*adresse à l'étranger"):
        load_annuaire(path, resolver=resolver)


def test_unresolvable_codes_are_dropped(tmp_path: Path, resolver: CommuneResolver) -> None:
    path = rewrite(tmp_path, lambda line: "810000000044" not in line)
    text = path.read_text(encoding="utf-8").replace("|75015|75115|", "|75015|99999|")
    path.write_text(text, encoding="utf-8")
    supply = load_annuaire(path, resolver=resolver)
    assert [d["reason"] for d in supply.dropped] == ["code commune inconnu"]


def test_wrong_delimiter_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "semicolons.csv"
    path.write_text(SAMPLE.read_text(encoding="utf-8").replace("|", ";"), encoding="utf-8")
    with pytest.raises(InputError, match=r"semicolons\.csv, ligne 1 : mauvais séparateur ';'"):
        load_annuaire(path)


def test_missing_column_and_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "no-postcode.txt"
    path.write_text(
        SAMPLE.read_text(encoding="utf-8").replace("Code postal (coord. structure)", "CP"),
        encoding="utf-8",
    )
    with pytest.raises(InputError) as error:
        load_annuaire(path)
    assert (error.value.line, error.value.column) == (1, "Code postal (coord. structure)")
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="fichier vide"):
        load_annuaire(empty)


def test_row_with_missing_fields_names_its_line(tmp_path: Path) -> None:
    path = rewrite(tmp_path, lambda line: True)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[4] = lines[4].rsplit("|", 10)[0]  # line 5 loses its last fields
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="43 champs alors que l'en-tête en a 53") as error:
        load_annuaire(path)
    assert error.value.line == 5
