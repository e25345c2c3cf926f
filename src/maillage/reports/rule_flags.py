"""Assurance Maladie's remote-act rules counted for the evaluation: how many télé-expertises
go beyond the fourth TE2 of a year for one patient and requested doctor, and how many doctors
do more than 20 % of their declared annual activity remotely (or cannot be evaluated, having
declared none). Flags to discuss, never a judgement: billing is the doctor's decision."""

from __future__ import annotations

import numpy as np
import pandas as pd

from maillage.care.remote_rules import REMOTE_SHARE_CEILING, te2_over_limit
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
        "te2_au_dela_du_quatrieme": beyond,
        "medecins_au_dela_de_20_pourcent": int((evaluable & (share > REMOTE_SHARE_CEILING)).sum()),
        "medecins_non_evaluables": int((~evaluable).sum()),
    }
