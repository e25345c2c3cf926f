"""The DREES *accessibilité potentielle localisée* (APL), profession by profession.

Method of 2015 for general practitioners as DREES documents it — Barlet, Coldefy, Collin &
Lucas-Gabrielli (2012), « L'accessibilité potentielle localisée (APL) », Études et Résultats
n° 795, and Vergier & Chaput (2017), « Déserts médicaux : comment les définir ? », Les Dossiers
de la DREES n° 17:

* an E2SFCA on road times between communes, weight 1 under 10 minutes, 2/3 from 10 to 15,
  1/3 from 15 to 20, 0 beyond. DREES times come in whole minutes, so the bounds' inclusivity
  only decides ties; we take inclusive upper bounds (10 min → 1), as PySAL ``step_fn``;
* supply: GPs aged 65 or less, each counted by its activity (consultations + visits a year)
  floored at 3,600 and capped at 6,000 acts;
* demand: population standardised by the age-specific consumption of GP care;
* unit: consultations a year accessible per (standardised) inhabitant — national mean 4.11
  in 2015 (Dossiers n° 17).

DREES also publishes an APL for nurses, masseurs-kinésithérapeutes, sages-femmes and
chirurgiens-dentistes, in full-time equivalents (ETP) per 100,000 inhabitants — per 100,000
women for sages-femmes (Legendre, Aberki & Chaput, « Infirmiers, masseurs-kinésithérapeutes et
sages-femmes : l'accessibilité s'améliore malgré des inégalités », Études et Résultats n° 1100,
2019). :data:`APL_PROFILES` holds each profession's parameters with their source, and says
where a parameter was not found in the sources consulted and which neutral choice stands in.
The GP act constants below belong to the GP profile only: the other professions count FTE.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

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

_DREES_APL = (
    "DREES, « L'indicateur d'accessibilité potentielle localisée (APL) », "
    "https://drees.solidarites-sante.gouv.fr/sources-outils-et-enquetes/"
    "lindicateur-daccessibilite-potentielle-localisee-apl"
)
_ER_1100 = (
    "Legendre, Aberki & Chaput, Études et Résultats n° 1100 (DREES, janvier 2019), "
    "https://drees.solidarites-sante.gouv.fr/publications/etudes-et-resultats/"
    "infirmiers-masseurs-kinesitherapeutes-et-sages-femmes"
)
_ER_1206 = (
    "DREES, « Les trois quarts des personnes les plus éloignées des professionnels de premier "
    "recours vivent dans des territoires ruraux », Études et Résultats n° 1206 (septembre "
    "2021): APL to nurses, masseurs-kinésithérapeutes and sages-femmes « de moins de 65 ans »"
)
_NURSES_FTE = (
    "Observatoire des territoires (ANCT), « Accessibilité potentielle localisée (APL) aux "
    "infirmiers » (SNIIR-AM 2021, traitements DREES): 1 ETP = the median activity of libéral "
    "nurses, each nurse's ETP = activity / median within activity bounds, 1 ETP imputed to a "
    "nurse in her first libéral year"
)
_MIDWIVES = (
    "arrêté on the sages-femmes' zonage, JO of 27 October 2019 (JORFTEXT000039281722), as "
    "summarised by ONSSF: ETP from reimbursable fees, sages-femmes over 65 excluded, demand "
    "the female population"
)
_FTE_AS_DECLARED = (
    "activity bounds not found in the sources consulted: a register row counts as its "
    "declared fte (1 per practitioner, what DREES imputes to a newcomer); the activity "
    "column (a GP's acts) is ignored"
)
_STEPS_NOT_FOUND = (
    "this profession's steps under the 2015 method not found in the sources consulted: "
    "neutral choice, the DREES GP steps 10:1,15:2/3,20:1/3 (--steps overrides)"
)
_NOT_STANDARDISED = (
    "DREES standardises by the profession's age-specific consumption; coefficients not found "
    "in the sources consulted: neutral choice, the raw population (the GP curve is not used)"
)
_NO_THRESHOLDS = "none published for this APL: classe stays empty unless --thresholds is given"


@dataclass(frozen=True)
class AplProfile:
    """How DREES computes one profession's APL.

    ``offer`` is what a practitioner brings: ``"acts"`` (GPs: activity floored and capped) or
    ``"fte"`` (full-time equivalents). Access is multiplied by ``per`` (1 for consultations
    per inhabitant, 100,000 for FTE per 100,000). ``sources`` cites every parameter, or says
    it was not found and which neutral choice stands in.
    """

    profession: str
    offer: Literal["acts", "fte"]
    per: float
    demand: Literal["gp-consumption", "population", "women"]
    max_age: int
    sources: Mapping[str, str]

    def unit(self, women: bool = False) -> str:
        """What one access value counts, in French (``women``: demand is the female population)."""
        if self.offer == "acts":
            return "consultations par an et par habitant"
        return f"ETP pour 100 000 {'femmes' if women else 'habitants'}"


_GP = AplProfile(
    "generaliste",
    offer="acts",
    per=1.0,
    demand="gp-consumption",
    max_age=MAX_AGE,
    sources={
        "offer": "consultations + visits a year floored at 3,600 and capped at 6,000 acts, "
        "4,800 acts per FTE when unknown: Dossiers de la DREES n° 17 (2017), ER n° 795 (2012)",
        "max_age": "GPs aged 65 or less: Dossiers de la DREES n° 17",
        "steps": "10:1,15:2/3,20:1/3 (minutes:weight): ER n° 795, Dossiers de la DREES n° 17",
        "demand": "population standardised by age-specific GP consumption (with --ages; "
        "broad-band approximation, see maillage.territory.ages)",
        "unit": "consultations a year per inhabitant: " + _DREES_APL,
        "thresholds": "2.5 and 4: arrêté du 13 novembre 2017 (zonage médecins)",
    },
)


_FTE_DEMAND = {
    "population": _NOT_STANDARDISED,
    "women": "the female population (with --ages: INSEE Pyy_POPF, or Pyy_POP − Pyy_POPH), "
    "not age-standardised (coefficients not found in the sources consulted): " + _MIDWIVES,
}


def _fte_profile(
    profession: str,
    *,
    unit: str,
    offer: str,
    max_age: str,
    demand: Literal["population", "women"] = "population",
) -> AplProfile:
    """A profession DREES counts in FTE per 100,000: the GP act constants do not apply."""
    return AplProfile(
        profession,
        offer="fte",
        per=100_000.0,
        demand=demand,
        max_age=MAX_AGE,
        sources={
            "offer": offer,
            "max_age": max_age,
            "steps": _STEPS_NOT_FOUND,
            "demand": _FTE_DEMAND[demand],
            "unit": unit,
            "thresholds": _NO_THRESHOLDS,
        },
    )


APL_PROFILES: dict[str, AplProfile] = {
    p.profession: p
    for p in (
        _GP,
        _fte_profile(
            "infirmier",
            unit="ETP per 100,000 inhabitants (145 in 2017): " + _ER_1100,
            offer=_NURSES_FTE + "; " + _FTE_AS_DECLARED,
            max_age="65 or less: " + _ER_1206,
        ),
        _fte_profile(
            "kinesitherapeute",
            unit="ETP per 100,000 inhabitants (103 in 2017): " + _ER_1100,
            offer="ETP from activity: " + _ER_1100 + "; " + _FTE_AS_DECLARED,
            max_age="65 or less: " + _ER_1206,
        ),
        _fte_profile(
            "sage-femme",
            unit="ETP per 100,000 women (16 in 2017): " + _ER_1100,
            offer=_MIDWIVES + "; " + _FTE_AS_DECLARED,
            max_age="65 or less: " + _MIDWIVES + "; " + _ER_1206,
            demand="women",
        ),
        _fte_profile(
            "dentiste",
            unit="ETP per 100,000 inhabitants: DREES, data.drees « L'accessibilité potentielle "
            "localisée (APL) », file « Indicateur d'APL aux chirurgiens-dentistes »",
            offer="ETP: " + _DREES_APL + "; " + _FTE_AS_DECLARED,
            max_age="65 or less: the DREES column « APL aux chirurgiens-dentistes de 65 ans et "
            "moins » (as republished; no DREES text found stating it)",
        ),
    )
}


def apl_profile(profession: str) -> AplProfile:
    """The APL parameters of a ``--profession`` key."""
    try:
        return APL_PROFILES[profession]
    except KeyError:
        raise ValueError(f"aucune APL définie pour la profession {profession!r}") from None


def apl_supply(
    table: pd.DataFrame, location_codes: np.ndarray, profile: AplProfile = _GP
) -> np.ndarray:
    """What each of ``location_codes`` offers (0 where none): acts a year for GPs, FTE else.

    ``table`` has ``code_commune`` and ``fte`` and optionally ``age`` and ``activity``
    (acts a year of the whole practitioner; a row holding part of an FTE gets that share).
    Practitioners older than the profile's age limit are left out when their age is known.
    """
    fte = table["fte"].to_numpy(dtype=float)
    age = _optional(table, "age")
    if profile.offer == "acts":
        activity = _optional(table, "activity")
        fte = fte * np.where(
            np.isnan(activity), DEFAULT_ACTS_PER_FTE, np.clip(activity, MIN_ACTS, MAX_ACTS)
        )
    kept = ~(age > profile.max_age)
    per_code = pd.Series(fte[kept]).groupby(table["code_commune"].to_numpy()[kept]).sum()
    return per_code.reindex(location_codes, fill_value=0.0).to_numpy(dtype=float)


def apl(
    demand: np.ndarray,
    supply: np.ndarray,
    pairs: TravelPairs,
    steps: StepWeights = DREES_STEPS,
    profile: AplProfile = _GP,
) -> np.ndarray:
    """APL of every origin in the profile's unit (GPs: consultations a year per inhabitant;
    others: FTE per 100,000 inhabitants, or women for sages-femmes)."""
    return profile.per * floating_catchment(demand, supply, pairs, steps(pairs.minutes))


def _optional(table: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric column, all NaN when absent."""
    if column not in table:
        return np.full(len(table), np.nan)
    return pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
