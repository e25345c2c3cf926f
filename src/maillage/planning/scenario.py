"""What the plan would change: access recomputed with the new sites as extra supply (a simulation).

A site does not bring a doctor; it brings teleconsultations. We count them as the GP time they
stand for: a site offering C teleconsultations a year adds C / 4,800 FTE-equivalents in its
commune, 4,800 being the acts a year of one FTE GP that the APL uses when activity is unknown
(:data:`maillage.access.apl.DEFAULT_ACTS_PER_FTE`: DREES' 2015 mean APL of 4.11 over ~85 GPs
per 100,000 inhabitants, the middle of the DREES 3,600–6,000 band). Under the APL the site then
adds exactly C acts (its activity is left unknown so that the 3,600 floor does not inflate it);
under 2SFCA/E2SFCA/gravity it adds C / 4,800 FTE.

Before and after are the same diagnosis run twice, the second with the sites' supply added, so
the only difference is that supply: access can only rise (a larger numerator at the sites'
communes, the same denominators everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from maillage.access import apl, zoning
from maillage.diagnosis.parameters import DiagnosisParameters
from maillage.diagnosis.pipeline import Diagnosis, Step, quiet_step, run_diagnosis
from maillage.territory.supply import SUPPLY_COLUMNS

#: Teleconsultations a year of a working assisted-teleconsultation site: the MSP of Carignan
#: (Ardennes) "compte déjà plus de 2 000 téléconsultations en un an" (Préfecture de la région
#: Grand Est, « Le déploiement de la télémédecine se poursuit en Grand Est », feuille de route
#: télémédecine 2021–2023). Used when the plan gives no ``--capacity``.
SITE_TELECONSULTATIONS = 2_000.0
ACTS_PER_FTE = apl.DEFAULT_ACTS_PER_FTE
LABEL = (
    "SIMULATION : accès recalculé comme si chaque nouveau site ajoutait ses téléconsultations "
    "à l'offre de médecine générale de sa commune ; pas une prévision"
)
IMPACT_COLUMNS = [
    "code_commune",
    "nom",
    "departement",
    "population",
    "access_before",
    "access_after",
    "classe_before",
    "classe_after",
]


@dataclass(frozen=True)
class Impact:
    """Per-commune access before and after (``IMPACT_COLUMNS``) and the figures planners quote."""

    table: pd.DataFrame
    summary: dict


def site_supply(codes: np.ndarray, teleconsultations: float | np.ndarray) -> pd.DataFrame:
    """Supply rows (one per site, in its commune) worth ``teleconsultations`` acts a year
    (the same for every site, or one figure per site)."""
    return pd.DataFrame(
        {
            "code_commune": np.asarray(codes, dtype=str),
            "fte": teleconsultations / ACTS_PER_FTE,
            "age": np.nan,
            "activity": np.nan,
        }
    )[SUPPLY_COLUMNS]


def simulate(
    params: DiagnosisParameters,
    site_codes: np.ndarray,
    teleconsultations: float,
    thresholds: tuple[float, float] | None,
    step: Step = quiet_step,
    before: Diagnosis | None = None,
) -> Impact:
    """Access of every commune of the area without and with the new sites in ``site_codes``.

    "After" is the very same diagnosis run with the sites' supply added, so the two differ by
    nothing else; ``before`` may be passed when the caller has already run it.
    """
    if before is None:
        before = run_diagnosis(params, step)
    after = run_diagnosis(
        params,
        lambda label: step(f"Simulation : {label.lower()}"),
        extra_supply=site_supply(site_codes, teleconsultations),
    )
    table = before.communes[["code_commune", "nom", "departement", "population"]].copy()
    for name, diagnosis in (("before", before), ("after", after)):
        table[f"access_{name}"] = diagnosis.communes.access.to_numpy()
        table[f"classe_{name}"] = zoning.classify(table[f"access_{name}"], thresholds)
    return Impact(table[IMPACT_COLUMNS], _summary(table, teleconsultations, len(site_codes)))


def _summary(table: pd.DataFrame, teleconsultations: float, sites: int) -> dict:
    """Population per class before and after, and the population leaving ``sous-dotee``."""
    population = table.population.fillna(0.0)
    leaving = (table.classe_before == "sous-dotee") & (table.classe_after != "sous-dotee")
    classified = (table.classe_before != "").any()

    def by_class(column: str) -> dict:
        return population.groupby(table[column].replace("", "non classée")).sum().to_dict()

    return {
        "label": LABEL,
        "sites": sites,
        "teleconsultations_per_site": teleconsultations,
        "fte_equivalent_per_site": teleconsultations / ACTS_PER_FTE,
        "conversion": (
            f"{teleconsultations:g} téléconsultations par an / {ACTS_PER_FTE:g} actes par ETP de "
            "généraliste (activité par défaut de l'APL DREES) = équivalents ETP ajoutés dans "
            "la commune du site"
        ),
        "mean_access_before": _mean(table.access_before, population),
        "mean_access_after": _mean(table.access_after, population),
        "totals_by_class_before": by_class("classe_before"),
        "totals_by_class_after": by_class("classe_after"),
        "population_leaving_sous_dotee": float(population[leaving].sum()) if classified else None,
        "communes_leaving_sous_dotee": int(leaving.sum()) if classified else None,
        "communes_improved": int((table.access_after > table.access_before).sum()),
    }


def _mean(access: pd.Series, population: pd.Series) -> float | None:
    total = population.sum()
    return float(np.average(access.fillna(0.0), weights=population)) if total > 0 else None
