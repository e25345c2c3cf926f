"""Assurance Maladie's rules for remote acts, checked as flags (never a block).

Sources (as consulted): the coordinated care pathway and its exceptions for teleconsultation
(avenant 6 to the 2016 medical convention; summary in « La téléconsultation », Le Moniteur des
pharmacies: patient referred by their médecin traitant, seen in person in the previous 12 months,
exceptions for emergencies and direct-access specialties), the télé-expertise limit of 4 TE2 a
year per patient and requested doctor (https://omniprat.org/fiches-pratiques/teleexpertise/),
and the ceiling of 20 % of a doctor's annual activity done remotely (medical convention). The
flags are shown to the doctor and in the evaluation; billing is the doctor's decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

PATHWAY_EXCEPTIONS: dict[str, str] = {
    "sans-medecin-traitant": "patient sans médecin traitant (ou médecin traitant indisponible)",
    "moins-de-16-ans": "patient de moins de 16 ans",
    "zone-sous-dense": "patient résidant en zone sous-dense",
    "regulation-sas": "téléconsultation régulée par le service d'accès aux soins (SAS)",
    "urgence": "situation d'urgence",
    "acces-direct": "spécialité en accès direct (gynécologie, ophtalmologie, psychiatrie…)",
}
"""The exceptions to the coordinated care pathway, code → French label."""
TE2_PER_YEAR = 4
"""TE2 billable per calendar year for one patient and one requested doctor."""
REMOTE_SHARE_CEILING = 0.20
"""Share of a doctor's annual activity that may be done remotely."""
NOT_EVALUABLE = "non évaluable"


@dataclass(frozen=True)
class Teleconsultation:
    """What the pathway rule needs to know of one teleconsultation."""

    day: date
    birth_date: date | None
    has_medecin_traitant: bool
    by_medecin_traitant: bool
    referred_by_medecin_traitant: bool
    last_seen_in_person: date | None
    exceptions: frozenset[str] = frozenset()


def pathway_flag(visit: Teleconsultation) -> str | None:
    """Why a teleconsultation falls outside the coordinated care pathway, in French; ``None``
    when it is inside it or an exception applies."""
    unknown = visit.exceptions - PATHWAY_EXCEPTIONS.keys()
    if unknown:
        raise ValueError(f"unknown pathway exception(s) {sorted(unknown)}")
    if visit.exceptions or not visit.has_medecin_traitant or _under_16(visit):
        return None
    reasons = []
    if not (visit.by_medecin_traitant or visit.referred_by_medecin_traitant):
        reasons.append("ni réalisée ni orientée par le médecin traitant")
    seen = visit.last_seen_in_person
    if seen is None or seen < _years_after(visit.day, -1):
        reasons.append("patient non vu en présentiel dans les 12 mois précédents")
    return "hors parcours de soins coordonné : " + " ; ".join(reasons) if reasons else None


def _years_after(day: date, years: int) -> date:
    """The same day ``years`` later (earlier when negative); 29 February falls on the 28th."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 2, 28)


def _under_16(visit: Teleconsultation) -> bool:
    birth = visit.birth_date
    return birth is not None and visit.day < _years_after(birth, 16)


def te2_over_limit(te2: pd.DataFrame) -> pd.Series:
    """For TE2 acts (columns ``patient``, ``doctor``, ``day``), whether each is beyond the
    fourth of its calendar year for that patient and requested doctor (in day order)."""
    days = pd.to_datetime(te2["day"])
    ordered = te2.assign(_day=days, _year=days.dt.year).sort_values("_day", kind="stable")
    rank = ordered.groupby(["patient", "doctor", "_year"]).cumcount()
    return (rank >= TE2_PER_YEAR).reindex(te2.index)


def remote_share(remote_acts: int, declared_activity: int | None) -> float | str:
    """The share of a doctor's declared annual activity done remotely, or « non évaluable »
    without a declared activity."""
    if not declared_activity or declared_activity <= 0:
        return NOT_EVALUABLE
    return remote_acts / declared_activity


def remote_share_flag(remote_acts: int, declared_activity: int | None) -> str | None:
    """The flag when remote acts exceed 20 % of the declared activity; « non évaluable » when
    nothing is declared."""
    share = remote_share(remote_acts, declared_activity)
    if isinstance(share, str):
        return share
    if share > REMOTE_SHARE_CEILING:
        return (
            f"activité à distance au-delà de 20 % de l'activité annuelle ({round(share * 100)} %)"
        )
    return None
