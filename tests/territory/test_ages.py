"""INSEE population by age, and the age-standardised demand derived from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from maillage.errors import InputError
from maillage.territory.ages import (
    BANDS,
    CONSUMPTION,
    female_demand,
    load_female_population,
    load_population_by_age,
    standardised_demand,
)

SAMPLE = Path(__file__).parent / "data" / "base-cc-evol-struct-pop-sample.csv"


def test_latest_census_year_is_read() -> None:
    ages = load_population_by_age(SAMPLE)
    assert ages.attrs["census_year"] == "2021"  # P15 columns are incomplete and older
    assert ages["code_commune"].tolist() == ["67482", "2A004", "23001"]
    assert list(ages.columns) == ["code_commune", *BANDS]
    assert ages.loc[2, BANDS].tolist() == [9, 6, 11, 24, 38, 27, 6]


def test_demand_weights_old_communes_up_and_keeps_the_total() -> None:
    ages = load_population_by_age(SAMPLE)
    communes = pd.DataFrame(
        {
            "code_commune": ["23001", "2A004", "67482", "75056"],
            "population": [120.0, 73_000.0, 290_000.0, 2_100_000.0],
        }
    )
    demand = standardised_demand(ages, communes)
    # by hand: acts per head of each commune's age profile, then rescaled to the covered total
    per_head = (ages.set_index("code_commune")[BANDS] @ CONSUMPTION) / ages.set_index(
        "code_commune"
    )[BANDS].sum(axis=1)
    covered = communes.iloc[:3].set_index("code_commune")["population"]
    mean = (covered * per_head[covered.index]).sum() / covered.sum()
    assert demand.iloc[0] == pytest.approx(120 * per_head["23001"] / mean)
    assert demand.iloc[:3].sum() == pytest.approx(covered.sum())
    assert demand.iloc[0] / 120 > 1.3 > demand.iloc[2] / 290_000  # an old village vs Strasbourg
    assert demand.iloc[3] == 2_100_000.0  # absent from the file: raw population, and said so
    assert demand.attrs["missing"] == ["75056"]
    assert demand.index.equals(communes.index)


@pytest.mark.parametrize(
    ("text", "line", "column", "reason"),
    [
        ("", 1, None, "fichier vide"),
        ("CODGEO,P21_POP0014\n01001,3\n", 1, "CODGEO", "mauvais séparateur"),
        ("INSEE;P21_POP0014\n01001;3\n", 1, "CODGEO", "colonne manquante"),
        ("CODGEO;P21_POP0014\n01001;3\n", 1, "P21_POP1529", "aucun jeu complet"),
        ("CODGEO;P21_POP\n01001;3\n", 1, "Pyy_POP0014", "aucun jeu complet"),
        ("CODGEO;P21_POP0014;P21_POP\n01001;3;3\n", 1, "P21_POP1529", "aucun jeu complet"),
        (
            "CODGEO;" + ";".join(f"P21_POP{b}" for b in BANDS) + "\n01001;1;2;3;4;x;6;7\n",
            2,
            "P21_POP6074",
            "pas un nombre",
        ),
    ],
)
def test_bad_files(tmp_path, text, line, column, reason) -> None:
    path = tmp_path / "ages.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=reason) as error:
        load_population_by_age(path)
    assert (error.value.line, error.value.column) == (line, column)


def test_consumption_rises_with_age() -> None:
    assert np.all(np.diff(CONSUMPTION.to_numpy()[1:]) > 0)


def test_female_population_is_population_less_men() -> None:
    female = load_female_population(SAMPLE)
    assert female.attrs["census_year"] == "2021"
    row = female.set_index("code_commune").loc["67482"]
    assert row["women"] == pytest.approx(291_313.2 - 139_800.1)
    communes = pd.DataFrame(
        {"code_commune": ["23001", "75056"], "population": [120.0, 2_100_000.0]},
        index=[7, 9],
    )
    demand = female_demand(female, communes)
    assert demand.index.tolist() == [7, 9]
    assert demand[7] == pytest.approx(120 * 61 / 121)  # Creuse village: 61 women of 121
    national = female["women"].sum() / female["population"].sum()
    assert demand[9] == pytest.approx(2_100_000 * national)  # absent: the file's share
    assert demand.attrs["missing"] == ["75056"]


def test_female_population_read_from_popf_when_given(tmp_path) -> None:
    path = tmp_path / "ages.csv"
    path.write_text("CODGEO;P21_POP;P21_POPF\n01001;100;52\n", encoding="utf-8")
    assert load_female_population(path)["women"].tolist() == [52.0]


def test_file_without_female_population_names_the_column(tmp_path) -> None:
    path = tmp_path / "ages.csv"
    path.write_text("CODGEO;P21_POP;P21_POP0014\n01001;100;20\n", encoding="utf-8")
    with pytest.raises(InputError, match="100 000 femmes") as error:
        load_female_population(path)
    assert (error.value.line, error.value.column) == (1, "P21_POPH")
