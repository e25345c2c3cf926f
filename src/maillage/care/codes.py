"""The network's own codes and extension URLs, each defined once with one meaning."""

from __future__ import annotations

WORKFLOW_SYSTEM = "urn:maillage:workflow"
"""Code system of the network's workflows (an Appointment's ``serviceType``, a request's
``code``)."""
TELECONSULTATION = "teleconsultation"
"""The workflow code of a teleconsultation Appointment."""
TELE_EXPERTISE = "tele-expertise"
"""The workflow code of a télé-expertise ServiceRequest and its Task."""
VIDEO_ROOM_URL = "urn:maillage:video-room"
"""Extension (valueString) holding a teleconsultation's video room name."""
ACT_URL = "urn:maillage:act-code"
"""Extension (valueCoding) recording an Assurance Maladie act on a resource."""
NGAP_SYSTEM = "urn:maillage:ngap"
"""Code system of the recorded acts (NGAP codes: TCG, TC, TLS, RQD, TE2…)."""
ACT_CLASS_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
VIRTUAL = "VR"
"""The Encounter class (v3 ActCode) of a teleconsultation: virtual."""
PARTICIPATION_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
PRIMARY_PERFORMER = "PPRF"
"""The participant type marking the remote doctor among an Encounter's participants."""
ANNUAL_ACTIVITY_URL = "urn:maillage:declared-annual-activity"
"""Extension (valueInteger) on a Practitioner: the annual activity (acts a year) the doctor or
the network's coordinator declared, against which the 20 % remote ceiling is checked."""
PATHWAY_EXCEPTION_URL = "urn:maillage:pathway-exception"
"""Extension (valueCode, one per exception) on a teleconsultation Appointment: why the
coordinated care pathway does not apply (codes of ``remote_rules.PATHWAY_EXCEPTIONS``)."""
REFERRED_BY_URL = "urn:maillage:referred-by"
"""Extension (valueReference to a Practitioner) on a teleconsultation Appointment: the doctor
who oriented the patient to it. Oriented by their médecin traitant, the patient is inside the
coordinated care pathway (when seen in person in the previous 12 months)."""
ABSENCE_URL = "urn:maillage:absence"
"""Extension on a Schedule, one per exception (holiday, absence): sub-extensions ``period``
(valuePeriod, inclusive local days) and ``reason`` (valueString). No slot is generated in it,
and the free slots it covers are withdrawn (``busy-unavailable``)."""
