"""Loader for a user's own supply table: ``code_commune,fte[,profession][,age][,activity]``.

Unlike the national register, this file is the user's own, so any bad value is an error that
names its line and column rather than a silent drop: the user can mend it in a minute.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from maillage.tabular import fail_at, read_csv_strings
from maillage.territory.codes import normalise_codes
from maillage.territory.professions import PROFESSIONS, get_profession
from maillage.territory.supply import SUPPLY_COLUMNS, SupplyInput

REQUIRED = ("code_commune", "fte")
NUMERIC = ("fte", "age", "activity")


def load_supply_csv(path: str | Path, profession: str, known_codes: Iterable[str]) -> SupplyInput:
    """Supply rows for ``profession``; rows naming another profession are left out.

    ``known_codes`` are the valid commune codes (the communes table); codes keep their leading
    zeros, and a 4-digit code that lost its zero in a spreadsheet gets it back.
    """
    path = Path(path)
    get_profession(profession)
    table = read_csv_strings(path, REQUIRED)
    codes = normalise_codes(table["code_commune"])
    known = pd.Index(list(known_codes))
    fail_at(path, ~codes.isin(known), "code_commune", "code commune inconnu", table["code_commune"])
    if "profession" in table:
        given = table["profession"]
        unknown = given.ne("") & ~given.isin(list(PROFESSIONS))
        fail_at(
            path,
            unknown,
            "profession",
            f"profession inconnue (valeurs possibles : {', '.join(PROFESSIONS)})",
            given,
        )
    values = {}
    for column in NUMERIC:
        if column not in table:
            values[column] = pd.Series(np.nan, index=table.index)
            continue
        raw = table[column]
        number = pd.to_numeric(raw.where(raw.ne("")), errors="coerce")
        fail_at(path, raw.ne("") & number.isna(), column, "pas un nombre", raw)
        fail_at(path, number < 0, column, "valeur négative", raw)
        values[column] = number.astype(float)
    fail_at(path, values["fte"].isna(), "fte", "valeur manquante", table["fte"])

    supply = pd.DataFrame({"code_commune": codes, **values})[SUPPLY_COLUMNS]
    notes = []
    if "profession" in table:
        mine = table["profession"].isin(["", profession])
        notes.append(f"{int((~mine).sum())} lignes d'autres professions écartées")
        supply = supply[mine.to_numpy()]
    return SupplyInput(
        table=supply.reset_index(drop=True),
        path=str(path),
        format="csv",
        profession=profession,
        notes=notes,
    )
