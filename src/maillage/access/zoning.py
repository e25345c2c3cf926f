"""Zoning: turn an access value into the classes regional health agencies act on.

Published thresholds exist only for GPs' APL: the arrêté du 13 novembre 2017 (méthodologie de
zonage des médecins, art. L. 1434-4 CSP) makes communes under 2.5 consultations a year per
inhabitant candidates for *zones d'intervention prioritaire* and those between 2.5 and 4 the
*zones d'action complémentaire* pool (DREES, Dossiers n° 17, 2017).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from maillage.travel.model import TravelPairs

CLASSES = ("sous-dotee", "intermediaire", "dotee")
PUBLISHED_THRESHOLDS = {("apl", "generaliste"): (2.5, 4.0)}


def default_thresholds(method: str, profession: str) -> tuple[float, float] | None:
    """The published (T1, T2) for this method and profession, ``None`` if there is none."""
    return PUBLISHED_THRESHOLDS.get((method, profession))


def parse_thresholds(text: str) -> tuple[float, float]:
    """``"2.5,4"`` → ``(2.5, 4.0)``; T1 must be below T2."""
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"--thresholds s'écrit comme '2.5,4' (T1,T2), pas {text!r}") from None
    if not low < high:
        raise ValueError(f"--thresholds demande T1 < T2, reçu {text!r}")
    return low, high


def classify(access: ArrayLike, thresholds: tuple[float, float] | None) -> np.ndarray:
    """``sous-dotee`` (≤ T1), ``intermediaire`` (T1, T2], ``dotee`` (> T2); ``""`` when there
    are no thresholds or no value."""
    values = np.asarray(access, dtype=float)
    if thresholds is None:
        return np.full(len(values), "", dtype=object)
    low, high = thresholds
    classes = np.select([values <= low, values <= high, values > high], list(CLASSES), default="")
    return classes.astype(object)


def population_by_class(
    population: np.ndarray, classes: np.ndarray, groups: np.ndarray
) -> pd.DataFrame:
    """Population of each class (columns) in each group, e.g. department or region (rows)."""
    table = (
        pd.Series(np.asarray(population, dtype=float))
        .groupby([np.asarray(groups), np.asarray(classes)])
        .sum()
    )
    return table.unstack(fill_value=0)


def population_without_care(
    population: np.ndarray, pairs: TravelPairs, has_supply: np.ndarray, minutes: float
) -> np.ndarray:
    """Per origin, its population if no destination with supply lies within ``minutes``
    (inclusive), else 0; the sum is the population without care."""
    near = (pairs.minutes <= minutes) & np.asarray(has_supply, dtype=bool)[pairs.destination]
    served = np.bincount(pairs.origin[near], minlength=pairs.n_origins) > 0
    return np.where(served, 0.0, np.asarray(population, dtype=float))
