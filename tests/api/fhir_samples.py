"""A small network in FHIR R4: two sites, a remote doctor, two patients, and their records.

``doctor`` has a care relationship with ``patient-2`` (an appointment at ``site-2``) and none with
``patient-1``, who belongs to ``site-1`` through ``msp-1``.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from maillage.care.french import IDENTITY_RELIABILITY
from maillage.care.identifiers import INS_NIR_SYSTEM, RPPS_SYSTEM
from maillage.care.monitoring import LOINC, UCUM, WEIGHT

VALID_NIR = "255081416802538"
CORSICAN_NIR = "185052A01234579"
VALID_RPPS = "10000000009"
ORG_TYPE = "urn:maillage:organization-type"

Body = dict[str, Any]


def organization(oid: str, kind: str = "MSP", city: str = "Bar-le-Duc") -> Body:
    return {
        "resourceType": "Organization",
        "id": oid,
        "name": f"Maison de santé {oid}",
        "type": [{"coding": [{"system": ORG_TYPE, "code": kind}]}],
        "address": [{"city": city}],
    }


def location(lid: str, org: str, city: str = "Bar-le-Duc", kind: str = "cabine") -> Body:
    return {
        "resourceType": "Location",
        "id": lid,
        "status": "active",
        "name": f"Site {lid}",
        "type": [{"coding": [{"system": "urn:maillage:equipment", "code": kind}]}],
        "address": {"city": city, "postalCode": "55000"},
        "position": {"longitude": 5.16, "latitude": 48.77},
        "managingOrganization": {"reference": f"Organization/{org}"},
    }


def practitioner(pid: str, rpps: str = VALID_RPPS) -> Body:
    return {
        "resourceType": "Practitioner",
        "id": pid,
        "identifier": [{"system": RPPS_SYSTEM, "value": rpps}],
        "name": [{"family": "Martin", "given": ["Claire"]}],
    }


def patient(
    pid: str, org: str, nir: str | None = None, family: str = "Dupont", status: str = "VALI"
) -> Body:
    body: Body = {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"family": family, "given": ["Jeanne"]}],
        "birthDate": "1948-03-02",
        "managingOrganization": {"reference": f"Organization/{org}"},
    }
    if nir:
        body["identifier"] = [{"system": INS_NIR_SYSTEM, "value": nir}]
        body["extension"] = [identity_status(status)]
    return body


def identity_status(code: str) -> Body:
    """The FR Core identity-reliability extension with an RNIV status (PROV … QUAL)."""
    return {
        "url": IDENTITY_RELIABILITY,
        "extension": [{"url": "identityStatus", "valueCoding": {"code": code}}],
    }


def schedule(sid: str, actor: str) -> Body:
    return {"resourceType": "Schedule", "id": sid, "active": True, "actor": [{"reference": actor}]}


def slot(sid: str, schedule_id: str, start: str, end: str, status: str = "free") -> Body:
    return {
        "resourceType": "Slot",
        "id": sid,
        "schedule": {"reference": f"Schedule/{schedule_id}"},
        "status": status,
        "start": start,
        "end": end,
    }


def appointment(aid: str, patient_id: str, doctor: str, site: str, start: str) -> Body:
    return {
        "resourceType": "Appointment",
        "id": aid,
        "status": "proposed",
        "start": start,
        "end": start.replace(":00:00", ":20:00"),
        "participant": [
            {"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"},
            {"actor": {"reference": f"Practitioner/{doctor}"}, "status": "accepted"},
            {"actor": {"reference": f"Location/{site}"}, "status": "accepted"},
        ],
    }


def consent(cid: str, patient_id: str, status: str = "active") -> Body:
    return {
        "resourceType": "Consent",
        "id": cid,
        "status": status,
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "treatment",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient_id}"},
    }


def encounter(eid: str, patient_id: str, site: str) -> Body:
    return {
        "resourceType": "Encounter",
        "id": eid,
        "status": "planned",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "VR"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "location": [{"location": {"reference": f"Location/{site}"}}],
    }


def document(did: str, patient_id: str) -> Body:
    return {
        "resourceType": "DocumentReference",
        "id": did,
        "status": "current",
        "subject": {"reference": f"Patient/{patient_id}"},
        "content": [{"attachment": {"contentType": "text/plain", "data": "Q29tcHRlIHJlbmR1"}}],
    }


def pdf_report(patient_id: str, encounter_id: str, author: str, pdf: bytes) -> Body:
    """A compte rendu as a doctor writes it after a teleconsultation: a PDF, no id yet."""
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": f"Patient/{patient_id}"},
        "author": [{"reference": f"Practitioner/{author}"}],
        "context": {"encounter": [{"reference": f"Encounter/{encounter_id}"}]},
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "data": base64.b64encode(pdf).decode(),
                }
            }
        ],
    }


def submission_set(lid: str, patient_id: str, document_id: str) -> Body:
    """An MHD submission set (List) listing one DocumentReference."""
    return {
        "resourceType": "List",
        "id": lid,
        "status": "current",
        "mode": "working",
        "code": {
            "coding": [
                {
                    "system": "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes",
                    "code": "submissionset",
                }
            ]
        },
        "subject": {"reference": f"Patient/{patient_id}"},
        "entry": [{"item": {"reference": f"DocumentReference/{document_id}"}}],
    }


def healthcare_service(hid: str, org: str, site: str) -> Body:
    return {
        "resourceType": "HealthcareService",
        "id": hid,
        "name": "Téléconsultation assistée",
        "providedBy": {"reference": f"Organization/{org}"},
        "location": [{"reference": f"Location/{site}"}],
    }


def practitioner_role(rid: str, doctor: str, org: str) -> Body:
    return {
        "resourceType": "PractitionerRole",
        "id": rid,
        "practitioner": {"reference": f"Practitioner/{doctor}"},
        "organization": {"reference": f"Organization/{org}"},
    }


def binary(bid: str, patient_id: str, data: str = "RUNHIGRhdGE=") -> Body:
    return {
        "resourceType": "Binary",
        "id": bid,
        "contentType": "application/pdf",
        "securityContext": {"reference": f"Patient/{patient_id}"},
        "data": data,
    }


def service_request(sid: str, patient_id: str, requester: str, performer: str) -> Body:
    return {
        "resourceType": "ServiceRequest",
        "id": sid,
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
        "requester": {"reference": requester},
        "performer": [{"reference": performer}],
    }


def task(tid: str, patient_id: str, requester: str, owner: str, status: str = "requested") -> Body:
    return {
        "resourceType": "Task",
        "id": tid,
        "status": status,
        "intent": "order",
        "for": {"reference": f"Patient/{patient_id}"},
        "requester": {"reference": requester},
        "owner": {"reference": owner},
    }


def observation(oid: str, patient_id: str) -> Body:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": "2026-03-02T08:00:00+01:00",
        "valueQuantity": {
            "value": 81.5,
            "unit": "kg",
            "system": "http://unitsofmeasure.org",
            "code": "kg",
        },
    }


def flag(fid: str, patient_id: str) -> Body:
    return {
        "resourceType": "Flag",
        "id": fid,
        "status": "active",
        "code": {"text": "Weight gain"},
        "subject": {"reference": f"Patient/{patient_id}"},
    }


def care_team(cid: str, patient_id: str, *members: str) -> Body:
    return {
        "resourceType": "CareTeam",
        "id": cid,
        "status": "active",
        "subject": {"reference": f"Patient/{patient_id}"},
        "participant": [{"member": {"reference": m}} for m in members],
    }


def care_plan(cid: str, patient_id: str, team: str, performer: str) -> Body:
    return {
        "resourceType": "CarePlan",
        "id": cid,
        "status": "active",
        "intent": "plan",
        "subject": {"reference": f"Patient/{patient_id}"},
        "careTeam": [{"reference": f"CareTeam/{team}"}],
        "activity": [
            {
                "detail": {
                    "status": "scheduled",
                    "description": "Weigh every morning",
                    "performer": [{"reference": performer}],
                }
            }
        ],
    }


def communication(cid: str, patient_id: str, sender: str) -> Body:
    return {
        "resourceType": "Communication",
        "id": cid,
        "status": "completed",
        "subject": {"reference": f"Patient/{patient_id}"},
        "sender": {"reference": sender},
        "payload": [{"contentString": "Œdèmes en hausse, à revoir"}],
    }


def network() -> list[Body]:
    """The sample network, in dependency order."""
    return [
        organization("msp-1"),
        organization("msp-2", kind="EHPAD", city="Verdun"),
        location("site-1", "msp-1"),
        location("site-2", "msp-2", city="Verdun", kind="chariot"),
        practitioner("doctor"),
        practitioner_role("doctor-role", "doctor", "msp-2"),
        healthcare_service("tlc", "msp-1", "site-1"),
        patient("patient-1", "msp-1", nir=VALID_NIR),
        patient("patient-2", "msp-2", family="Lefèvre"),
        schedule("doctor-schedule", "Practitioner/doctor"),
        slot("slot-1", "doctor-schedule", "2026-03-02T09:00:00+01:00", "2026-03-02T09:20:00+01:00"),
        appointment("visit-2", "patient-2", "doctor", "site-2", "2026-03-02T10:00:00+01:00"),
        consent("consent-2", "patient-2"),
        encounter("encounter-2", "patient-2", "site-2"),
        document("report-2", "patient-2"),
        submission_set("share-2", "patient-2", "report-2"),
        binary("scan-2", "patient-2"),
        service_request("ask-2", "patient-2", "Practitioner/doctor", "Practitioner/doctor"),
        task("task-2", "patient-2", "Practitioner/doctor", "Practitioner/doctor"),
        observation("weight-2", "patient-2"),
        flag("flag-2", "patient-2"),
        care_team("team-2", "patient-2", "Practitioner/doctor", "Organization/msp-2"),
        care_plan("plan-2", "patient-2", "team-2", "Practitioner/doctor"),
        communication("note-2", "patient-2", "Practitioner/doctor"),
    ]


def weighing(kg: float, at: str, serial: str) -> Body:
    """A connected scale's weight for ``Patient/p1``, as a transaction entry."""
    return {
        "fullUrl": f"urn:uuid:{uuid.uuid4()}",
        "resource": {
            "resourceType": "Observation",
            "identifier": [{"system": "urn:scale:hf-100", "value": serial}],
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "vital-signs",
                        }
                    ]
                }
            ],
            "code": {"coding": [{"system": LOINC, "code": WEIGHT}]},
            "subject": {"reference": "Patient/p1"},
            "device": {"reference": "Device/scale-1"},
            "effectiveDateTime": at,
            "valueQuantity": {"value": kg, "unit": "kg", "system": UCUM, "code": "kg"},
        },
        "request": {"method": "POST", "url": "Observation"},
    }


def post_bundle(server: Any, entries: list[dict], headers: dict[str, str]) -> Any:
    """POST a transaction Bundle of ``entries`` to ``/fhir``."""
    body = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    return server.client.post("/fhir", json=body, headers=headers)
