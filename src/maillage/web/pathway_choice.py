"""The booking form's « parcours de soins » part: who oriented the patient, or why the
coordinated care pathway does not apply. Recorded on the Appointment so the remote doctor's
page and the evaluation flag only the teleconsultations really outside the pathway."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from maillage.care.codes import PATHWAY_EXCEPTION_URL, REFERRED_BY_URL
from maillage.care.remote_rules import PATHWAY_EXCEPTIONS

Body = dict[str, Any]
ORIENTED = "medecin-traitant"
"""The form value of « orienté(e) par son médecin traitant »."""


class PathwayProblem(ValueError):
    """A pathway choice the form cannot record, in French."""


def choices(chosen: Iterable[str]) -> list[dict[str, Any]]:
    """The exceptions as the form lists them, those in ``chosen`` ticked."""
    ticked = set(chosen)
    return [
        {"code": code, "label": label[:1].upper() + label[1:], "coche": code in ticked}
        for code, label in PATHWAY_EXCEPTIONS.items()
    ]


def extensions(oriented: str, exceptions: list[str], treating: str | None) -> list[Body]:
    """The Appointment's extensions for the form's answers: the referral by the patient's
    médecin traitant (``treating``, ``Practitioner/id``) and each exception ticked."""
    unknown = sorted(set(exceptions) - PATHWAY_EXCEPTIONS.keys())
    if unknown:
        raise PathwayProblem(f"Exception au parcours inconnue : {', '.join(unknown)}.")
    recorded = [
        {"url": PATHWAY_EXCEPTION_URL, "valueCode": code} for code in dict.fromkeys(exceptions)
    ]
    if oriented != ORIENTED:
        return recorded
    if treating is None:
        raise PathwayProblem(
            "Ce patient n'a pas de médecin traitant déclaré : cochez plutôt l'exception "
            f"« {PATHWAY_EXCEPTIONS['sans-medecin-traitant']} »."
        )
    return [{"url": REFERRED_BY_URL, "valueReference": {"reference": treating}}, *recorded]
