"""Population by age per commune (INSEE), and the age-standardised demand the APL uses.

The DREES APL weighs each inhabitant by the GP care consumed at their age, measured in the
Assurance maladie's SNIIRAM (Barlet, Coldefy, Collin, Lucas-Gabrielli, "L'accessibilité
potentielle localisée (APL)", DREES Études et Résultats n°795, 2012, and Document de travail
n°124; parameters restated on https://drees.solidarites-sante.gouv.fr/sources-outils-et-enquetes/
lindicateur-daccessibilite-potentielle-localisee-apl). DREES applies its coefficients by sex and
five-year band; INSEE's commune file has seven broad bands and no sex split, so the
``CONSUMPTION`` below is an APPROXIMATION: GP consultations and visits a year per inhabitant by
broad band, rounded to the shape of that published curve (low from 5 to 29, rising steeply after
60, about three times the young-adult level past 75). Only the ratios matter: demand is rescaled
so that the national total equals the population. This curve is the GPs' only: the other
professions' APL never uses it (see ``maillage.access.apl.APL_PROFILES``); the sages-femmes' APL
counts the female population instead (``load_female_population``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from maillage.errors import InputError
from maillage.tabular import parsing
from maillage.territory.codes import normalise_codes

BANDS = ["0014", "1529", "3044", "4559", "6074", "7589", "90P"]
# GP acts a year per inhabitant by band (approximation, see the module docstring).
CONSUMPTION = pd.Series([3.0, 2.6, 3.2, 4.0, 5.3, 7.8, 9.0], index=BANDS)


def _check_header(path: Path) -> list[str]:
    if not path.is_file():
        raise InputError(path, "fichier introuvable")
    with path.open("r", encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline().strip()
    if not header:
        raise InputError(path, "fichier vide : en-tête INSEE attendu CODGEO;Pyy_POP0014;…", line=1)
    names = header.split(";")
    if "CODGEO" not in names:
        reason = "colonne manquante"
        if ";" not in header and "CODGEO" in header:
            reason = "mauvais séparateur : le fichier INSEE est séparé par ';'"
        raise InputError(path, reason, line=1, column="CODGEO")
    return names


def load_population_by_age(path: str | Path) -> pd.DataFrame:
    """``code_commune`` and one population column per band (``0014`` … ``90P``).

    Reads INSEE's "base-cc-evol-struct-pop" layout; when several census years are present
    (``P21_POP0014``, ``P15_POP0014``…), the latest complete one is used.
    """
    path = Path(path)
    names = _check_header(path)
    band_column = re.compile(rf"P(\d\d)_POP(?:{'|'.join(BANDS)})")
    years = sorted({m.group(1) for m in map(band_column.fullmatch, names) if m}, reverse=True)
    year = next((y for y in years if all(f"P{y}_POP{b}" in names for b in BANDS)), None)
    if year is None:
        latest = [f"P{years[0]}_POP{band}" for band in BANDS] if years else ["Pyy_POP0014"]
        missing = next(column for column in latest if column not in names)
        raise InputError(
            path, "aucun jeu complet de colonnes par tranche d'âge", line=1, column=missing
        )
    columns = [f"P{year}_POP{band}" for band in BANDS]
    with parsing(path):
        raw = pd.read_csv(
            path, sep=";", dtype=str, usecols=["CODGEO", *columns], keep_default_na=False
        )
    if raw.empty:
        raise InputError(path, "aucune ligne de données après l'en-tête", line=2)
    table = pd.DataFrame({"code_commune": normalise_codes(raw["CODGEO"])})
    for band, column in zip(BANDS, columns, strict=True):
        table[band] = _numbers(raw, column, path)
    table.attrs["census_year"] = f"20{year}"
    return table


def load_female_population(path: str | Path) -> pd.DataFrame:
    """``code_commune``, ``population`` and ``women`` of the latest census year that gives the
    female population (``Pyy_POPF``, else ``Pyy_POP`` − ``Pyy_POPH``): the demand of the
    sages-femmes' APL, which DREES counts per 100,000 women."""
    path = Path(path)
    names = set(_check_header(path))
    years = sorted({m.group(1) for m in map(re.compile(r"P(\d\d)_POP").fullmatch, names) if m})
    usable = [y for y in years if f"P{y}_POPF" in names or f"P{y}_POPH" in names]
    if not usable:
        latest = years[-1] if years else "yy"
        raise InputError(
            path,
            "pas de population féminine (Pyy_POPF, ou Pyy_POP et Pyy_POPH) : l'APL aux "
            "sages-femmes se compte pour 100 000 femmes",
            line=1,
            column=f"P{latest}_POPH",
        )
    year = usable[-1]
    female = f"P{year}_POPF" if f"P{year}_POPF" in names else f"P{year}_POPH"
    raw = pd.read_csv(
        path, sep=";", dtype=str, usecols=["CODGEO", f"P{year}_POP", female], keep_default_na=False
    )
    population = _numbers(raw, f"P{year}_POP", path)
    other = _numbers(raw, female, path)
    women = other if female.endswith("F") else population - other
    table = pd.DataFrame(
        {"code_commune": normalise_codes(raw["CODGEO"]), "population": population, "women": women}
    )
    table.attrs["census_year"] = f"20{year}"
    return table


def female_demand(female: pd.DataFrame, communes: pd.DataFrame) -> pd.Series:
    """Female population per commune, aligned on ``communes``' index: each commune's own
    population times its female share in the INSEE file; communes absent from the file take
    the file's national share (their codes are in ``result.attrs["missing"]``)."""
    by_code = female.groupby("code_commune")[["population", "women"]].sum()
    national = by_code["women"].sum() / by_code["population"].sum()
    share = (by_code["women"] / by_code["population"]).reindex(communes["code_commune"].to_numpy())
    in_file = np.isfinite(share.to_numpy())
    demand = pd.Series(
        communes["population"].to_numpy(dtype=float) * np.where(in_file, share, national),
        index=communes.index,
        name="demand",
    )
    demand.attrs["missing"] = communes.loc[~in_file, "code_commune"].tolist()
    return demand


def _numbers(raw: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """A column of numbers (decimal point or comma); the first other value is an error."""
    text = raw[column].str.strip().str.replace(",", ".", regex=False)
    number = pd.to_numeric(text, errors="coerce")
    bad = number.isna().to_numpy()
    if bad.any():
        line = int(np.argmax(bad)) + 2
        raise InputError(
            path, f"pas un nombre : {raw[column].iloc[line - 2]!r}", line=line, column=column
        )
    return number.astype(float)


def standardised_demand(ages: pd.DataFrame, communes: pd.DataFrame) -> pd.Series:
    """Population weighted by age-specific GP consumption, aligned on ``communes``' index.

    Each commune keeps its own population (from ``communes``) times the ratio of its age
    profile's consumption to the national mean, so the total over covered communes is
    unchanged. Communes absent from ``ages`` keep their raw population; their codes are in
    ``result.attrs["missing"]``.
    """
    by_code = ages.groupby("code_commune")[BANDS].sum()
    bands = by_code.reindex(communes["code_commune"].to_numpy())
    per_head = (bands @ CONSUMPTION) / bands.sum(axis=1)
    population = communes["population"].to_numpy(dtype=float)
    factor = per_head.to_numpy()
    in_file = np.isfinite(factor)
    covered = in_file & np.isfinite(population)
    national = np.sum(population[covered] * factor[covered]) / np.sum(population[covered])
    demand = pd.Series(
        np.where(in_file, population * factor / national, population),
        index=communes.index,
        name="demand",
    )
    demand.attrs["missing"] = communes.loc[~in_file, "code_commune"].tolist()
    return demand
