"""The patient banner of the care pages: who the patient is (age, sex, identity status), their
médecin traitant, and their last consultations and documents, so that a remote doctor never
works without context.

Everything is read through the principal's repository (policy and audit inside): the Patient,
one search for the médecin traitant, one for the last encounters and one for the last
documents.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from maillage.care.appointments import email_of
from maillage.care.codes import VIRTUAL
from maillage.care.repository import Repository
from maillage.web import identities, records
from maillage.web.teleconsultation import french_moment

LAST = 5
"""How many past consultations and documents the banner lists."""

Body = dict[str, Any]


def age(born: str | None, today: date) -> int | None:
    """Completed years on ``today`` (None without a birth date)."""
    if not born:
        return None
    birth = date.fromisoformat(born[:10])
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def banner(repository: Repository, patient_id: str) -> dict[str, Any]:
    """What the banner shows of ``Patient/patient_id``."""
    zone = repository.settings.zone
    patient = records.get(repository, "Patient", patient_id)
    shown = identities.summary(patient)
    years = age(patient.get("birthDate"), datetime.now(zone).date())
    reference = f"Patient/{patient_id}"
    history = [("patient", reference), ("_sort", "-date")]
    encounters = records.find(repository, "Encounter", history, count=LAST)
    documents = records.find(repository, "DocumentReference", history, count=LAST)
    return {
        **shown,
        "age": f"{years} ans" if years is not None else "âge inconnu",
        "medecin_traitant": general_practitioner(repository, patient),
        "consultations": [
            {
                "date": french_moment((e.get("period") or {}).get("start"), zone),
                "genre": "téléconsultation"
                if (e.get("class") or {}).get("code") == VIRTUAL
                else "consultation",
                "statut": "terminée" if e.get("status") == "finished" else "en cours",
            }
            for e in encounters
        ],
        "documents": [
            {
                "date": french_moment(d.get("date"), zone),
                "titre": (d.get("type") or {}).get("text") or d.get("description") or "Document",
            }
            for d in documents
        ],
    }


def general_practitioner(repository: Repository, patient: Body) -> dict[str, str | None]:
    """The médecin traitant's name and address (None when not declared, or without one), and
    the banner's sentence about them."""
    ids = {
        ident
        for item in patient.get("generalPractitioner") or []
        if (ident := records.reference_id(item, "Practitioner"))
    }
    doctors = records.by_ids(repository, "Practitioner", ids)
    if not doctors:
        return {"nom": None, "adresse": None, "texte": "aucun médecin traitant déclaré"}
    doctor = next(iter(doctors.values()))
    name, address = f"Dr {records.person_name(doctor)}", email_of(doctor)
    where = f" ({address})" if address else " (sans adresse de messagerie)"
    return {"nom": name, "adresse": address, "texte": name + where}
