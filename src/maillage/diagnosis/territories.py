"""A diagnosis read at the grain planners decide at: EPCI, department and region.

ARS and Régions fund and negotiate with intercommunalities (EPCI: contrats locaux de santé,
maisons de santé) and departments, so each commune result is summed over them: population per
zoning class, population without care, supply, and the population-weighted mean access of the
communes that have a value. Sums are exact, so every level adds up to the commune table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from maillage.access import zoning
from maillage.territory.geography import departements, epcis, regions

LEVELS = ("epci", "departement", "region")
#: Columns of territories.csv, in order.
COLUMNS = [
    "level",
    "code",
    "nom",
    "communes",
    "complete",
    "population",
    "demand",
    "supply",
    "access",
    "classe",
    "population_sous_dotee",
    "population_intermediaire",
    "population_dotee",
    "population_non_classee",
    "population_no_care",
    "share_sous_dotee",
    "share_fte_aged_60_plus",
]
AGE_OF_CONCERN = 60


def territory_keys(communes: pd.DataFrame, level: str) -> pd.Series:
    """The territory code of each commune at ``level``; a commune outside any EPCI (four
    islands) stands as its own territory, under its INSEE code."""
    if level not in LEVELS:
        raise ValueError(f"--by doit valoir {', '.join(LEVELS)}, pas {level!r}")
    keys = communes[level]
    return keys.fillna(communes.code_commune) if level == "epci" else keys


def territory_names(level: str, codes: pd.Index, communes: pd.DataFrame) -> pd.Series:
    """What a planner reads for each code: "CA de Bar-le-Duc Sud Meuse", "Meuse (55)"."""
    if level == "epci":
        named = epcis().set_index("code").nom
        alone = communes.set_index("code_commune").nom + " (commune sans EPCI)"
        return named.reindex(codes).fillna(alone.reindex(codes))
    table = departements() if level == "departement" else regions()
    return table.set_index("code").nom.reindex(codes) + " (" + codes.to_series(index=codes) + ")"


def aggregate(
    table: pd.DataFrame,
    level: str,
    national: pd.DataFrame,
    thresholds: tuple[float, float] | None,
) -> pd.DataFrame:
    """One row per territory of ``level`` met in ``table`` (a diagnosis' commune results).

    ``national`` (all communes, with ``level``) tells whether the study area holds the whole
    territory (``complete``): an EPCI across a regional border is only partly summed.
    ``share_fte_aged_60_plus`` is the FTE share of practitioners aged 60 or more among those
    of known age, empty when no age is known.
    """
    keys = territory_keys(table, level).to_numpy()
    population = table.population.fillna(0.0).to_numpy(dtype=float)
    access = table.access.to_numpy(dtype=float)
    valued = np.isfinite(access)
    classes = table.classe.fillna("").replace("", "non_classee").str.replace("-", "_")
    frame = pd.DataFrame(
        {
            "communes": 1,
            "population": population,
            "demand": table.demand.to_numpy(dtype=float),
            "supply": table.supply.to_numpy(dtype=float),
            "weighted": np.where(valued, population * np.nan_to_num(access), 0.0),
            "valued_population": np.where(valued, population, 0.0),
            "population_no_care": np.where(table.no_care.fillna(False).astype(bool), population, 0),
            "fte_aged_60_plus": table.fte_aged_60_plus.to_numpy(dtype=float),
            "fte_age_known": table.fte_age_known.to_numpy(dtype=float),
        }
    )
    by_class = pd.get_dummies(classes).astype(float).mul(population, axis=0)
    by_class.columns = "population_" + by_class.columns
    sums = pd.concat([frame, by_class.set_index(frame.index)], axis=1).groupby(keys).sum()
    for name in ("sous_dotee", "intermediaire", "dotee", "non_classee"):
        if f"population_{name}" not in sums:
            sums[f"population_{name}"] = 0.0
    result = sums.assign(
        level=level,
        code=sums.index,
        nom=territory_names(level, sums.index, national).to_numpy(),
        complete=sums.communes.to_numpy()
        == territory_keys(national, level).value_counts().reindex(sums.index).to_numpy(),
        access=_ratio(sums.weighted, sums.valued_population),
        share_sous_dotee=_ratio(sums.population_sous_dotee, sums.population),
        share_fte_aged_60_plus=_ratio(sums.fte_aged_60_plus, sums.fte_age_known),
    )
    result["classe"] = zoning.classify(result.access.to_numpy(), thresholds)
    return result[COLUMNS].reset_index(drop=True)


def all_levels(
    table: pd.DataFrame, national: pd.DataFrame, thresholds: tuple[float, float] | None
) -> pd.DataFrame:
    """EPCI, then departments, then regions, in one table (territories.csv)."""
    return pd.concat(
        [aggregate(table, level, national, thresholds) for level in LEVELS], ignore_index=True
    )


def supply_ages(supply: pd.DataFrame, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FTE aged 60 or more, and FTE of known age, located in each of ``codes``."""
    age = supply["age"].to_numpy(dtype=float)
    fte = supply["fte"].to_numpy(dtype=float)
    located = supply["code_commune"].to_numpy()
    known = np.isfinite(age)
    older = pd.Series(np.where(known & (age >= AGE_OF_CONCERN), fte, 0.0)).groupby(located).sum()
    with_age = pd.Series(np.where(known, fte, 0.0)).groupby(located).sum()
    return (
        older.reindex(codes, fill_value=0.0).to_numpy(dtype=float),
        with_age.reindex(codes, fill_value=0.0).to_numpy(dtype=float),
    )


def _ratio(numerator: pd.Series, denominator: pd.Series) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is zero."""
    den = denominator.to_numpy(dtype=float)
    return np.divide(
        numerator.to_numpy(dtype=float), den, out=np.full(len(den), np.nan), where=den > 0
    )
