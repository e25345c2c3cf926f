"""A deterministic, plausible, clearly SYNTHETIC practitioner set for the default run.

National densities of practitioners in libéral (or mixed) practice per 100,000 inhabitants,
rounded from DREES, "Démographie des professionnels de santé" (RPPS and ADELI registers at
1 January 2021, https://drees.solidarites-sante.gouv.fr/sources-outils-et-enquetes/
la-demographie-des-professionnels-de-sante-depuis-2012): about 85 GPs, 145 nurses, 110
physiotherapists, 12 midwives and 55 dentists per 100,000.

Where they settle follows where people go for everyday care, not each commune's size alone
(a rule of commune size alone, population^1.15, put 18.5 % of France under the GP threshold):

* **pole and periphery**: each commune's population is shared among the communes it reaches
  within :data:`POLE_MINUTES` (the first DREES APL step, by the default crow-fly model) in
  proportion to their population ** :data:`POLE_ATTRACTION` — a Huff model: a bourg draws its
  villages, a village next to a town is served by the town. A commune's expected count is the
  population it thereby serves, so that supply follows the catchments the APL measures;
* **regional disparities**: a seeded log-normal factor per département
  (σ = :data:`DEPARTEMENT_SIGMA`), as real densities differ between départements;
* expected counts are normalised to the national density and rounded at random (the floor,
  plus one with the fraction's probability).

Calibration (GPs, one named year): DREES, Legendre (2020), « En 2018, les territoires sous-dotés
en médecins généralistes concernent près de 6 % de la population », Études et Résultats
n° 1144 — 5.7 % of the population in communes with an APL below 2.5 and a national mean APL of
3.93 consultations a year per inhabitant in 2018. :data:`POLE_ATTRACTION`,
:data:`DEPARTEMENT_SIGMA` and :data:`GP_ACTS_MEDIAN` were set so that the national run
(crow-fly, raw population) gives both within one point (tested in
``tests/territory/test_synthetic_calibration.py``; figures in the README). Call it on the
national table and filter afterwards, so that a region's synthetic supply does not depend on
the extent of the run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from maillage.territory.communes import communes_places
from maillage.territory.professions import get_profession
from maillage.territory.supply import SUPPLY_COLUMNS, SupplyInput
from maillage.travel.crowfly import CrowFly

DENSITY_PER_100K = {
    "generaliste": 85.0,
    "infirmier": 145.0,
    "kinesitherapeute": 110.0,
    "sage-femme": 12.0,
    "dentiste": 55.0,
}
#: Minutes within which a commune's residents use a neighbouring pole: the first DREES step.
POLE_MINUTES = 10.0
#: A pole's pull on its neighbours' residents is its population ** this: above 1, a town draws
#: more than its share of residents (services concentrate), calibrated with the factor below.
POLE_ATTRACTION = 1.6
#: Spread of the département factor (log scale), calibrated on DREES 2018 (module docstring).
DEPARTEMENT_SIGMA = 0.06
AGE_MEAN, AGE_SD, AGE_MIN, AGE_MAX = 50.0, 11.0, 28.0, 72.0
#: GP acts (consultations + visits) a year, log-normal: a median of the order of DREES' ~5,000
#: acts per libéral GP, calibrated on DREES 2018's mean APL of 3.93 (module docstring); other
#: professions: unknown (NaN).
GP_ACTS_MEDIAN, GP_ACTS_SIGMA = 5_140.0, 0.3


def synthetic_practitioners(
    communes: pd.DataFrame, profession: str = "generaliste", seed: int = 2024
) -> SupplyInput:
    """One row per synthetic practitioner (1 FTE), the same for the same inputs and seed."""
    spec = get_profession(profession)
    density = DENSITY_PER_100K[profession]
    ordered = communes.sort_values("code_commune").reset_index(drop=True)
    population = ordered["population"].fillna(0.0).to_numpy(dtype=float)
    counts_rng, departement_rng, age_rng, activity_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    _, departement = np.unique(ordered["departement"].to_numpy(dtype=str), return_inverse=True)
    factor = np.exp(departement_rng.normal(0.0, DEPARTEMENT_SIGMA, departement.max() + 1))
    weight = served_population(ordered) * factor[departement]
    expected = weight / weight.sum() * density * population.sum() / 100_000
    counts = rounded_at_random(expected, counts_rng)
    codes = np.repeat(ordered["code_commune"].to_numpy(dtype=str), counts)
    n = len(codes)
    age = np.clip(age_rng.normal(AGE_MEAN, AGE_SD, n), AGE_MIN, AGE_MAX).round()
    activity = (
        activity_rng.lognormal(np.log(GP_ACTS_MEDIAN), GP_ACTS_SIGMA, n).round()
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
            f"SYNTHETIC {spec.label_plural} : {n} tirés (graine {seed}) à {density:g} pour "
            f"100 000 habitants (DREES 2021, arrondi), placés là où vont les habitants à moins de "
            f"{POLE_MINUTES:g} min (pôle et périphérie) avec un facteur par département",
            "SYNTHETIC âges et activité : valeurs plausibles, pas des praticiens réels",
        ],
    )


def served_population(communes: pd.DataFrame) -> np.ndarray:
    """Population each commune serves: every commune's residents shared among the communes
    within :data:`POLE_MINUTES` (itself included) in proportion to their population **
    :data:`POLE_ATTRACTION`.

    The total is the national population: nobody is counted twice or lost (a commune with no
    located neighbour, or no location, serves its own residents).
    """
    population = communes["population"].fillna(0.0).to_numpy(dtype=float)
    located = np.flatnonzero(np.isfinite(communes["x"]) & np.isfinite(communes["y"]))
    places = communes_places(communes).subset(located)
    pairs = CrowFly().pairs(places, places, POLE_MINUTES)
    origin, destination = located[pairs.origin], located[pairs.destination]
    pull = population[destination] ** POLE_ATTRACTION
    total_pull = np.bincount(origin, pull, len(population))
    share = pull / np.where(total_pull[origin] > 0, total_pull[origin], 1.0)
    served = np.bincount(destination, population[origin] * share, len(population))
    return served + np.where(total_pull > 0, 0.0, population)


def rounded_at_random(expected: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Whole counts whose mean is ``expected``: the floor, plus one with the fraction's
    probability (a bourg expecting 3.2 GPs has 3 or 4, never 0 or 7 as Poisson draws allow)."""
    whole = np.floor(expected)
    return (whole + (rng.random(len(expected)) < expected - whole)).astype(np.int64)
