"""A deterministic, plausible, clearly SYNTHETIC practitioner set for the default run.

Calibrated on national densities of practitioners in libéral (or mixed) practice per 100,000
inhabitants, rounded from DREES, "Démographie des professionnels de santé" (RPPS and ADELI
registers at 1 January 2021, https://drees.solidarites-sante.gouv.fr/sources-outils-et-enquetes/
la-demographie-des-professionnels-de-sante-depuis-2012): about 85 GPs, 145 nurses, 110
physiotherapists, 12 midwives and 55 dentists per 100,000. Practitioners cluster in towns, so the
expected count of a commune grows as population**ALPHA with ALPHA > 1, normalised to the
national total, and counts are Poisson draws. Call it on the national table and filter
afterwards, so that a region's synthetic supply does not depend on the extent of the run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from maillage.territory.professions import get_profession
from maillage.territory.supply import SUPPLY_COLUMNS, SupplyInput

DENSITY_PER_100K = {
    "generaliste": 85.0,
    "infirmier": 145.0,
    "kinesitherapeute": 110.0,
    "sage-femme": 12.0,
    "dentiste": 55.0,
}
ALPHA = 1.15  # > 1: density rises with commune size (doctors settle in towns)
AGE_MEAN, AGE_SD, AGE_MIN, AGE_MAX = 50.0, 11.0, 28.0, 72.0
# GP acts (consultations + visits) a year: median around the DREES order of magnitude of
# ~5,000 acts per libéral GP, log-normal spread; other professions: unknown (NaN).
GP_ACTS_MEDIAN, GP_ACTS_SIGMA = 4800.0, 0.3


def synthetic_practitioners(
    communes: pd.DataFrame, profession: str = "generaliste", seed: int = 2024
) -> SupplyInput:
    """One row per synthetic practitioner (1 FTE), the same for the same inputs and seed."""
    spec = get_profession(profession)
    density = DENSITY_PER_100K[profession]
    ordered = communes.sort_values("code_commune")
    population = ordered["population"].fillna(0.0).to_numpy(dtype=float)
    weight = population**ALPHA
    expected = weight / weight.sum() * density * population.sum() / 100_000
    rng = np.random.default_rng(seed)
    counts = rng.poisson(expected)
    codes = np.repeat(ordered["code_commune"].to_numpy(dtype=str), counts)
    n = len(codes)
    age = np.clip(rng.normal(AGE_MEAN, AGE_SD, n), AGE_MIN, AGE_MAX).round()
    activity = (
        rng.lognormal(np.log(GP_ACTS_MEDIAN), GP_ACTS_SIGMA, n).round()
        if profession == "generaliste"
        else np.full(n, np.nan)
    )
    table = pd.DataFrame({"code_commune": codes, "fte": 1.0, "age": age, "activity": activity})[
        SUPPLY_COLUMNS
    ]
    return SupplyInput(
        table=table,
        path=None,
        format="synthetic",
        profession=profession,
        synthetic=True,
        notes=[
            f"SYNTHETIC {spec.label_plural}: {n} drawn (seed {seed}) at {density:g} per "
            f"100,000 inhabitants (DREES 2021, rounded), denser in towns (population^{ALPHA})",
            "SYNTHETIC ages and activity: plausible values, not real practitioners",
        ],
    )
