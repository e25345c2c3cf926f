"""A patient's consent to telemedicine, recorded or withdrawn at a site (FHIR R4 Consent).

Each decision is a new Consent (history kept): scope ``treatment``, category LOINC 59284-0
(patient consent), the patient as performer and the site's organisation; a withdrawal is a
``deny`` provision. :mod:`maillage.care.booking` reads the most recent one before booking.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from maillage.care.booking import CONSENT_SCOPE, about_treatment, withdrawn
from maillage.store.resources import instant

Body = dict[str, Any]
LOINC = "http://loinc.org"
PATIENT_CONSENT = "59284-0"
ACT_CODES = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def consent_body(patient: str, organization: str | None, *, granted: bool) -> Body:
    """The Consent of ``patient`` (``Patient/id``) to telemedicine, given or withdrawn now."""
    body: Body = {
        "resourceType": "Consent",
        "status": "active",
        "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "treatment"}]},
        "category": [{"coding": [{"system": LOINC, "code": PATIENT_CONSENT}]}],
        "patient": {"reference": patient},
        "dateTime": instant(datetime.now(UTC)),
        "performer": [{"reference": patient}],
        "policyRule": {"coding": [{"system": ACT_CODES, "code": "OPTIN" if granted else "OPTOUT"}]},
        "provision": {"type": "permit" if granted else "deny"},
    }
    if organization:
        body["organization"] = [{"reference": organization}]
    return body


def current(consents: list[Body]) -> Body | None:
    """The latest consent to treatment among ``consents`` (oldest first), or None."""
    return next((c for c in reversed(consents) if about_treatment(c)), None)


def given(consent: Body | None) -> bool | None:
    """True when consent is given, False when withdrawn, None when never recorded."""
    return None if consent is None else not withdrawn(consent)
