"""Assurance Maladie's remote-act rules counted for the evaluation: how many télé-expertises
go beyond the fourth TE2 of a year for one patient and requested doctor, and how many doctors
do more than 20 % of their declared annual activity remotely (or cannot be evaluated, having
declared none). Flags to discuss, never a judgement: billing is the doctor's decision."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from maillage.care.remote_rules import (
    PATHWAY_EXCEPTIONS,
    REMOTE_SHARE_CEILING,
    Teleconsultation,
    pathway_flag,
    te2_over_limit,
)
from maillage.reports.evaluation import Network, Period


def rule_flags(network: Network, period: Period) -> dict[str, int]:
    """The count of each flag over the period (télé-expertises answered in it, and each
    doctor's teleconsultations and answered télé-expertises of the year)."""
    answered = network.expertise[
        (network.expertise.status == "completed") & period.holds(network.expertise.answered)
    ]
    te2 = pd.DataFrame(
        {
            "patient": answered.patient,
            "doctor": answered.owner,
            "day": answered.answered.dt.tz_convert(period.zone),
        }
    ).dropna()
    beyond = int(te2_over_limit(te2).sum()) if len(te2) else 0
    visits = network.teleconsultations[period.holds(network.teleconsultations.start)]
    remote = pd.concat([visits.doctor, te2.doctor]).dropna().value_counts()
    declared = (
        network.practitioners.set_index("practitioner").declared.reindex(remote.index)
        if len(remote)
        else pd.Series(dtype=float)
    )
    evaluable = declared.to_numpy(dtype=float) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        share = remote.to_numpy(dtype=float) / declared.to_numpy(dtype=float)
    return {
        "teleconsultations_hors_parcours": outside_pathway(network, visits, period),
        "te2_au_dela_du_quatrieme": beyond,
        "medecins_au_dela_de_20_pourcent": int((evaluable & (share > REMOTE_SHARE_CEILING)).sum()),
        "medecins_non_evaluables": int((~evaluable).sum()),
    }


def _known(codes: object) -> frozenset[str]:
    """The recorded exception codes the rule knows (another code is no exception)."""
    return frozenset((codes if isinstance(codes, str) else "").split()) & PATHWAY_EXCEPTIONS.keys()


def _day(moment: pd.Timestamp | None) -> date | None:
    return None if moment is None or pd.isna(moment) else pd.Timestamp(moment).date()


def outside_pathway(network: Network, visits: pd.DataFrame, period: Period) -> int:
    """The period's teleconsultations outside the coordinated care pathway with no exception
    recorded (inside: done by or oriented by the médecin traitant, patient seen in person)."""
    if visits.empty:
        return 0
    moment = f"datetime64[us, {period.zone.key}]"
    local = visits.assign(start=visits.start.dt.tz_convert(period.zone).astype(moment))
    seen = network.in_person.dropna()
    seen = pd.DataFrame(
        {"patient": seen.patient, "seen": seen.start.dt.tz_convert(period.zone).astype(moment)}
    )
    table = pd.merge_asof(
        local.sort_values("start"),
        seen.sort_values("seen"),
        left_on="start",
        right_on="seen",
        by="patient",
    )
    table = table.merge(network.patients, on="patient", how="left").merge(
        network.appointments[["appointment", "exceptions", "referred_by"]],
        on="appointment",
        how="left",
    )
    facts = [
        Teleconsultation(
            day=row["start"].date(),
            birth_date=_day(row["birth"]),
            has_medecin_traitant=isinstance(row["medecin_traitant"], str),
            by_medecin_traitant=bool(row["doctor"] == row["medecin_traitant"]),
            referred_by_medecin_traitant=bool(row["referred_by"] == row["medecin_traitant"]),
            last_seen_in_person=_day(row["seen"]),
            exceptions=_known(row["exceptions"]),
        )
        for row in table.to_dict("records")
    ]
    return sum(pathway_flag(visit) is not None for visit in facts)
