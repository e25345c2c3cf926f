"""The remote-act rules of :mod:`maillage.care.remote_rules` read from FHIR bodies: the
annual activity declared on a Practitioner, and what the pathway rule needs to know of a
teleconsultation Appointment. Pure functions over bodies already read under the policy."""

from __future__ import annotations

from datetime import date
from typing import Any

from maillage.care.codes import ANNUAL_ACTIVITY_URL, PATHWAY_EXCEPTION_URL, REFERRED_BY_URL
from maillage.care.remote_rules import PATHWAY_EXCEPTIONS, Teleconsultation

Body = dict[str, Any]


def declared_activity(practitioner: Body | None) -> int | None:
    """The annual activity declared on a Practitioner, if any."""
    for extension in (practitioner or {}).get("extension", []):
        if extension.get("url") == ANNUAL_ACTIVITY_URL:
            return int(extension["valueInteger"])
    return None


def declaring(practitioner: Body, acts: int) -> list[Body]:
    """The Practitioner's extensions with ``acts`` as its declared annual activity."""
    if acts <= 0:
        raise ValueError("the declared annual activity must be a positive number of acts")
    kept = [e for e in practitioner.get("extension", []) if e.get("url") != ANNUAL_ACTIVITY_URL]
    return [*kept, {"url": ANNUAL_ACTIVITY_URL, "valueInteger": acts}]


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text[:10]) if text else None


def teleconsultation(
    appointment: Body, patient: Body | None, doctor: str, in_person: list[str], today: date
) -> Teleconsultation:
    """The pathway facts of a teleconsultation by ``doctor`` (``Practitioner/id``): the
    patient's médecin traitant (``generalPractitioner``), the last in-person visit among
    ``in_person`` (ISO dates) up to the day (``today``, the network's, for an appointment
    without a start), who oriented the patient to it and the known exceptions recorded on
    the Appointment (another code is no exception)."""
    day = _day(appointment.get("start")) or today
    treating = {g.get("reference") for g in (patient or {}).get("generalPractitioner", []) if g} - {
        None
    }
    seen = [d for d in (_day(text) for text in in_person) if d is not None and d <= day]
    extensions = appointment.get("extension", [])
    exceptions = (
        frozenset(
            str(e.get("valueCode")) for e in extensions if e.get("url") == PATHWAY_EXCEPTION_URL
        )
        & PATHWAY_EXCEPTIONS.keys()
    )
    referrers = {
        (e.get("valueReference") or {}).get("reference")
        for e in extensions
        if e.get("url") == REFERRED_BY_URL
    }
    return Teleconsultation(
        day=day,
        birth_date=_day((patient or {}).get("birthDate")),
        has_medecin_traitant=bool(treating),
        by_medecin_traitant=doctor in treating,
        referred_by_medecin_traitant=bool(referrers & treating),
        last_seen_in_person=max(seen, default=None),
        exceptions=exceptions,
    )
