"""The DREES *accessibilité potentielle localisée* (APL) to general practitioners.

Method of 2015 as DREES documents it — Barlet, Coldefy, Collin & Lucas-Gabrielli (2012),
« L'accessibilité potentielle localisée (APL) », Études et Résultats n° 795, and Vergier &
Chaput (2017), « Déserts médicaux : comment les définir ? », Les Dossiers de la DREES n° 17:

* an E2SFCA on road times between communes, weight 1 under 10 minutes, 2/3 from 10 to 15,
  1/3 from 15 to 20, 0 beyond. DREES times come in whole minutes, so the bounds' inclusivity
  only decides ties; we take inclusive upper bounds (10 min → 1), as PySAL ``step_fn``;
* supply: GPs aged 65 or less, each counted by its activity (consultations + visits a year)
  floored at 3,600 and capped at 6,000 acts;
* demand: population standardised by the age-specific consumption of GP care;
* unit: consultations a year accessible per (standardised) inhabitant — national mean 4.11
  in 2015 (Dossiers n° 17).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from maillage.access.fca import floating_catchment
from maillage.access.weights import StepWeights
from maillage.travel.model import TravelPairs

DREES_STEPS = StepWeights.parse("10:1,15:2/3,20:1/3")
MAX_AGE = 65
MIN_ACTS, MAX_ACTS = 3_600.0, 6_000.0

#: Acts a year of one FTE GP when activity is unknown. The 2015 national mean APL of 4.11
#: (Dossiers de la DREES n° 17) over ~85 libéral GPs per 100,000 inhabitants gives
#: 4.11 / 85e-5 ≈ 4,800 acts per GP — also the middle of DREES' 3,600–6,000 band.
DEFAULT_ACTS_PER_FTE = 4_800.0


def apl_supply(table: pd.DataFrame, location_codes: np.ndarray) -> np.ndarray:
    """Acts a year offered in each of ``location_codes`` (0 where none).

    ``table`` has ``code_commune`` and ``fte`` and optionally ``age`` and ``activity``
    (acts a year of the whole practitioner; a row holding part of an FTE gets that share).
    GPs older than 65 are left out when their age is known.
    """
    fte = table["fte"].to_numpy(dtype=float)
    age = _optional(table, "age")
    activity = _optional(table, "activity")
    acts = np.where(np.isnan(activity), DEFAULT_ACTS_PER_FTE, np.clip(activity, MIN_ACTS, MAX_ACTS))
    kept = ~(age > MAX_AGE)
    per_code = pd.Series((fte * acts)[kept]).groupby(table["code_commune"].to_numpy()[kept]).sum()
    return per_code.reindex(location_codes, fill_value=0.0).to_numpy(dtype=float)


def apl(
    demand: np.ndarray,
    supply_acts: np.ndarray,
    pairs: TravelPairs,
    steps: StepWeights = DREES_STEPS,
) -> np.ndarray:
    """APL of every origin, in consultations a year per inhabitant."""
    return floating_catchment(demand, supply_acts, pairs, steps(pairs.minutes))


def _optional(table: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric column, all NaN when absent."""
    if column not in table:
        return np.full(len(table), np.nan)
    return pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
