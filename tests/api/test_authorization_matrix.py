"""The authorization matrix (issue 14): every role × every patient-data type × read, search,
create, update and delete, against the written table below; then the cross-organisation,
deleted-id, never-created-id and attachment cases.

A cell is ``ok`` (allowed), ``no`` (403), or for a search ``hid`` (answered without the record).
The records are patient-2's in the sample network, all recorded by a coordinator. Change the
policy and this table must change with it.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_server import Server
from fhir_samples import network, observation, patient

RECORDS = {
    "Patient": "patient-2",
    "Consent": "consent-2",
    "Appointment": "visit-2",
    "Encounter": "encounter-2",
    "DocumentReference": "report-2",
    "Binary": "scan-2",
    "ServiceRequest": "ask-2",
    "Task": "task-2",
    "Observation": "weight-2",
    "Flag": "flag-2",
    "CareTeam": "team-2",
    "CarePlan": "plan-2",
    "Communication": "note-2",
}
ACTIONS = ("read", "search", "create", "update", "delete")
ROLES = {
    "admin": ("admin", {}),
    "coordinator": ("coordinator", {}),
    "planner": ("planner", {}),
    "dpo": ("dpo", {}),
    "site-2 professional": ("site-professional", {"site": "Location/site-2"}),
    "site-1 professional": ("site-professional", {"site": "Location/site-1"}),
    "doctor": ("practitioner", {"practitioner": "Practitioner/doctor"}),
    "patient-2": ("patient", {"patient": "Patient/patient-2"}),
    "patient-1": ("patient", {"patient": "Patient/patient-1"}),
}
#: The written table: per role, one line per type in RECORDS' order, cells for
#: read search create update delete.
ALL, NONE = "ok ok ok ok ok", "no no no no no"
CARE = "ok ok ok ok no"  # a professional deletes only what they recorded
STRANGER = "no hid no no no"  # another organisation's professional, another patient
OWNER_READS = "ok ok no no no"
OWNER_ADDS = "ok ok ok no no"  # their consents, appointments, measurements and messages
EXPECTED: dict[str, list[str]] = {
    "admin": [ALL] * 13,
    "coordinator": [CARE] * 13,  # another coordinator recorded them
    "planner": [NONE] * 13,
    "dpo": [NONE] * 13,
    "site-2 professional": [CARE] * 13,
    "site-1 professional": [STRANGER] * 13,
    # A doctor registers a patient only under their own name, site or organisation.
    "doctor": ["ok ok no ok no"] + [CARE] * 12,
    "patient-2": [
        OWNER_READS,  # Patient
        OWNER_ADDS,  # Consent
        OWNER_ADDS,  # Appointment: changed only to cancel a future one (below)
        *[OWNER_READS] * 5,  # Encounter, DocumentReference, Binary, ServiceRequest, Task
        OWNER_ADDS,  # Observation
        *[OWNER_READS] * 3,  # Flag, CareTeam, CarePlan
        OWNER_ADDS,  # Communication
    ],
    "patient-1": [STRANGER] * 13,
}


def _cell(status: int, action: str, body: Any, record_id: str) -> str:
    if status == 403:
        return "no"
    if action == "search" and status == 200:
        ids = [entry["resource"]["id"] for entry in body.get("entry", [])]
        return "ok" if record_id in ids else "hid"
    return "ok" if 200 <= status < 300 else str(status)


def _row(server: Server, headers: dict[str, str], stored: dict[str, dict]) -> list[str]:
    client, cells = server.client, []
    for kind, record_id in RECORDS.items():
        body = {k: v for k, v in stored[kind].items() if k != "meta"}
        fresh = {k: v for k, v in body.items() if k != "id"}
        answers = {
            "read": client.get(f"/fhir/{kind}/{record_id}", headers=headers),
            "search": client.get(f"/fhir/{kind}?_id={record_id}", headers=headers),
            "create": client.post(f"/fhir/{kind}", json=fresh, headers=headers),
            "update": client.put(f"/fhir/{kind}/{record_id}", json=body, headers=headers),
            "delete": client.delete(f"/fhir/{kind}/{record_id}", headers=headers),
        }
        for action in ACTIONS:
            answer = answers[action]
            content = answer.json() if answer.content else {}
            cells.append(_cell(answer.status_code, action, content, record_id))
    return cells


@pytest.fixture
def stored(server: Server, coordinator: dict[str, str]) -> dict[str, dict]:
    for body in network():
        server.put(body, coordinator)
    return {
        kind: server.client.get(f"/fhir/{kind}/{rid}", headers=coordinator).json()
        for kind, rid in RECORDS.items()
    }


@pytest.mark.parametrize("who", list(ROLES))
def test_the_matrix(server: Server, stored: dict[str, dict], who: str) -> None:
    role, links = ROLES[who]
    cells = _row(server, server.headers(role, **links), stored)
    table = " ".join(EXPECTED[who]).split()
    assert cells == table, [
        f"{kind}.{action}: {got} (expected {want})"
        for (kind, action), got, want in zip(
            [(k, a) for k in RECORDS for a in ACTIONS], cells, table, strict=False
        )
        if got != want
    ]


def test_a_deleted_id_is_not_taken_over(
    server: Server, stored: dict[str, dict], coordinator: dict[str, str]
) -> None:
    """A site may not re-create a deleted Patient by PUT and so read its records."""
    admin = server.headers("admin")
    assert server.client.delete("/fhir/Patient/patient-2", headers=admin).status_code == 204
    site = server.headers("site-professional", site="Location/site-2")
    again = patient("patient-2", "msp-2")
    answer = server.client.put("/fhir/Patient/patient-2", json=again, headers=site)
    assert answer.status_code == 410, answer.text
    assert server.client.get("/fhir/Observation/weight-2", headers=site).status_code == 200
    other = server.headers("site-professional", site="Location/site-1")
    taken = server.client.put(
        "/fhir/Patient/patient-2", json=patient("patient-2", "msp-1"), headers=other
    )
    assert taken.status_code == 410
    assert server.client.get("/fhir/Observation/weight-2", headers=other).status_code == 403


def test_an_id_records_name_is_not_created_by_a_site(
    server: Server, stored: dict[str, dict], coordinator: dict[str, str]
) -> None:
    """Records name Patient/ghost, never created: a site creating it would gain them."""
    server.put(observation("ghost-weight", "ghost"), coordinator)
    site = server.headers("site-professional", site="Location/site-1")
    answer = server.client.put("/fhir/Patient/ghost", json=patient("ghost", "msp-1"), headers=site)
    assert answer.status_code == 403, answer.text
    assert server.client.get("/fhir/Observation/ghost-weight", headers=site).status_code == 403
    fresh = server.client.put("/fhir/Patient/new-1", json=patient("new-1", "msp-1"), headers=site)
    assert fresh.status_code == 201, fresh.text


def test_recorders_delete_their_own_and_patients_cancel_their_future_visits(
    server: Server, stored: dict[str, dict]
) -> None:
    me = server.headers("patient", patient="Patient/patient-2")
    mine = server.client.post("/fhir/Observation", json=observation("x", "patient-2"), headers=me)
    assert mine.status_code == 201, mine.text
    changed = {**mine.json(), "status": "amended"}
    path = f"/fhir/Observation/{mine.json()['id']}"
    assert server.client.put(path, json=changed, headers=me).status_code == 200
    site = server.headers("site-professional", site="Location/site-2")
    assert server.client.delete(path, headers=site).status_code == 403
    assert server.client.delete(path, headers=me).status_code == 204
    visit = {k: v for k, v in stored["Appointment"].items() if k != "meta"}
    moved = {**visit, "start": "2031-03-02T10:00:00+01:00", "end": "2031-03-02T10:20:00+01:00"}
    admin = server.headers("admin")
    server.put(moved, admin)
    resent = {**moved, "comment": "plus tard"}
    assert (
        server.client.put("/fhir/Appointment/visit-2", json=resent, headers=me).status_code == 403
    )
    cancelled = {**moved, "status": "cancelled"}
    answer = server.client.put("/fhir/Appointment/visit-2", json=cancelled, headers=me)
    assert answer.status_code == 200, answer.text


def test_attachments_follow_their_resource(server: Server, stored: dict[str, dict]) -> None:
    """A Binary's and a document's content are read only with the record that carries them."""
    other = server.headers("patient", patient="Patient/patient-1")
    for path in ("/fhir/Binary/scan-2", "/fhir/DocumentReference/report-2"):
        answer = server.client.get(path, headers=other)
        assert answer.status_code == 403
        assert "data" not in answer.text
        assert "patient-2" not in answer.text  # a refusal does not say whose record it is
    owner = server.headers("patient", patient="Patient/patient-2")
    assert server.client.get("/fhir/Binary/scan-2", headers=owner).json()["data"]


@pytest.mark.parametrize(
    "reference", ["Patient/patient-2/", "patient/patient-2", "Patient/ patient-2", "Nothing/x"]
)
def test_references_that_name_no_patient_are_refused(
    server: Server, stored: dict[str, dict], coordinator: dict[str, str], reference: str
) -> None:
    body = observation("odd", "patient-2")
    body["subject"] = {"reference": reference}
    answer = server.client.put("/fhir/Observation/odd", json=body, headers=coordinator)
    assert answer.status_code == 400, answer.text
    absolute = {**body, "subject": {"reference": "https://fhir.example.org/r4/Patient/patient-2"}}
    assert (
        server.client.put("/fhir/Observation/odd", json=absolute, headers=coordinator).status_code
        == 201
    )
    site = server.headers("site-professional", site="Location/site-1")
    assert server.client.get("/fhir/Observation/odd", headers=site).status_code == 403


def test_a_record_naming_no_patient_is_for_the_operators_only(
    server: Server, stored: dict[str, dict], coordinator: dict[str, str]
) -> None:
    body = observation("nobody", "patient-2")
    body["subject"] = {"identifier": {"system": "urn:x", "value": "patient-2"}}
    server.put(body, coordinator)
    for role, links in ROLES.values():
        if role in ("admin", "coordinator"):
            continue
        answer = server.client.get(
            "/fhir/Observation/nobody", headers=server.headers(role, **links)
        )
        assert answer.status_code == 403, (role, links)
    site = server.headers("site-professional", site="Location/site-2")
    made = server.client.post("/fhir/Observation", json=body, headers=site)
    assert made.status_code == 403, made.text


def test_a_cancelled_proposal_opens_no_record(
    server: Server, stored: dict[str, dict], coordinator: dict[str, str]
) -> None:
    """A proposal at site-1 opens patient-2's record to site-1; once cancelled, it does not."""
    visit = {k: v for k, v in stored["Appointment"].items() if k != "meta"}
    visit = {**visit, "id": "visit-1"}
    visit["participant"][2]["actor"]["reference"] = "Location/site-1"
    site = server.headers("site-professional", site="Location/site-1")
    assert server.client.get("/fhir/Patient/patient-2", headers=site).status_code == 403
    server.put(visit, coordinator)
    assert server.client.get("/fhir/Patient/patient-2", headers=site).status_code == 200
    server.put({**visit, "status": "cancelled"}, coordinator)
    assert server.client.get("/fhir/Patient/patient-2", headers=site).status_code == 403
    found = server.client.get("/fhir/Observation?patient=patient-2", headers=site).json()
    assert found["total"] == 0
