"""Télé-expertise end to end: a GP at an MSP asks a cardiologist, with an ECG attached."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_server import Server
from fhir_samples import location, organization, patient, practitioner, practitioner_role

from maillage.api.errors import status_of
from maillage.care.codes import ACT_URL, TELE_EXPERTISE, WORKFLOW_SYSTEM
from maillage.care.errors import DomainError
from maillage.care.principal import Principal
from maillage.care.teleexpertise import (
    claim,
    in_pool,
    is_pooled,
    pools_of,
)
from maillage.store.database import transaction
from maillage.store.users import Role

ECG = b"%PDF-1.4 12-lead ECG, sinus rhythm, QT 460 ms" * 20
EXPERTISE = {"coding": [{"system": WORKFLOW_SYSTEM, "code": TELE_EXPERTISE}]}
#: The GP's request to the cardiology pool (a HealthcareService), about patient p1.
POOLED_REQUEST = {
    "resourceType": "Task",
    "status": "requested",
    "intent": "order",
    "code": EXPERTISE,
    "for": {"reference": "Patient/p1"},
    "requester": {"reference": "Practitioner/gp"},
    "owner": {"reference": "HealthcareService/cardio-pool"},
}
CARDIOLOGY = {"coding": [{"system": "urn:maillage:specialty", "code": "cardiology"}]}


@pytest.fixture
def people(server: Server, coordinator: dict[str, str]) -> dict[str, dict[str, str]]:
    """An MSP with its GP and patient, a hospital with a cardiologist and its cardiology pool,
    and a doctor elsewhere with no link to the patient."""
    for body in (
        organization("msp"),
        organization("ch", kind="CH", city="Verdun"),
        organization("other-msp"),
        location("msp-site", "msp"),
        location("ch-site", "ch", city="Verdun"),
        location("other-site", "other-msp"),
        practitioner("gp", "10000000017"),
        practitioner("cardio", "10000000025"),
        practitioner("other", "10000000033"),
        {**patient("p1", "msp"), "generalPractitioner": [{"reference": "Practitioner/gp"}]},
        {
            "resourceType": "HealthcareService",
            "id": "cardio-pool",
            "name": "Télé-expertise cardiologie",
            "providedBy": {"reference": "Organization/ch"},
            "type": [CARDIOLOGY],
        },
    ):
        server.put(body, coordinator)

    def doctor(name: str, site: str) -> dict[str, str]:
        return server.headers(
            "practitioner", practitioner=f"Practitioner/{name}", site=f"Location/{site}"
        )

    return {
        "gp": doctor("gp", "msp-site"),
        "cardio": doctor("cardio", "ch-site"),
        "outsider": doctor("other", "other-site"),
    }


def _post(server: Server, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    response = server.client.post(f"/fhir/{body['resourceType']}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _move(server: Server, task: dict[str, Any], headers: dict[str, str], **changes: Any) -> Any:
    body = {k: v for k, v in task.items() if k != "meta"} | changes
    return server.client.put(f"/fhir/Task/{task['id']}", json=body, headers=headers)


def _acts(body: dict[str, Any]) -> list[str]:
    return [e["valueCoding"]["code"] for e in body.get("extension", []) if e["url"] == ACT_URL]


def _ids(server: Server, query: str, headers: dict[str, str]) -> list[str]:
    response = server.client.get(f"/fhir/{query}", headers=headers)
    assert response.status_code == 200, response.text
    return [entry["resource"]["id"] for entry in response.json()["entry"]]


def test_gp_asks_a_cardiologist_with_an_ecg(server: Server, people: dict) -> None:
    gp, cardio, outsider = people["gp"], people["cardio"], people["outsider"]
    ecg = _post(
        server,
        {
            "resourceType": "Binary",
            "contentType": "application/pdf",
            "securityContext": {"reference": "Patient/p1"},
            "data": base64.b64encode(ECG).decode(),
        },
        gp,
    )
    digest = hashlib.sha256(ECG).hexdigest()
    assert (server.settings.files_dir / digest[:2] / digest).read_bytes() == ECG
    request = _post(
        server,
        {
            "resourceType": "ServiceRequest",
            "status": "active",
            "intent": "order",
            "code": EXPERTISE,
            "subject": {"reference": "Patient/p1"},
            "requester": {"reference": "Practitioner/gp"},
            "performer": [{"reference": "Practitioner/cardio"}],
            "performerType": CARDIOLOGY,
            "reasonCode": [{"text": "QT long sur l'ECG : arrêt de l'hydroxyzine ?"}],
            "note": [{"text": "78 ans, syncopes, sous hydroxyzine depuis 3 mois"}],
            "supportingInfo": [{"reference": f"Binary/{ecg['id']}"}],
        },
        gp,
    )
    assert _acts(request) == ["RQD"]
    task = _post(
        server,
        {
            "resourceType": "Task",
            "status": "requested",
            "intent": "order",
            "code": EXPERTISE,
            "basedOn": [{"reference": f"ServiceRequest/{request['id']}"}],
            "for": {"reference": "Patient/p1"},
            "requester": {"reference": "Practitioner/gp"},
            "owner": {"reference": "Practitioner/cardio"},
        },
        gp,
    )
    due = datetime.fromisoformat(task["restriction"]["period"]["end"])
    authored = datetime.fromisoformat(task["authoredOn"])
    assert due - authored == timedelta(days=3)  # the cardiology delay, not the default 7

    # The cardiologist finds the request in their work list and reads the ECG.
    assert _ids(server, "Task?owner=Practitioner/cardio&status=requested", cardio) == [task["id"]]
    assert _ids(
        server, "ServiceRequest?requester=Practitioner/gp&performer=Practitioner/cardio", cardio
    ) == [request["id"]]
    read = server.client.get(f"/fhir/Binary/{ecg['id']}", headers=cardio).json()
    assert base64.b64decode(read["data"]) == ECG
    assert "tag" not in read["meta"]

    task = _move(server, task, cardio, status="accepted").json()
    task = _move(server, task, cardio, status="in-progress").json()
    refused = _move(server, task, cardio, status="on-hold")
    assert refused.status_code == 409
    assert "statusReason" in refused.json()["issue"][0]["diagnostics"]
    task = _move(
        server, task, cardio, status="on-hold", statusReason={"text": "Kaliémie récente ?"}
    ).json()
    assert _move(server, task, cardio, status="completed").status_code == 409
    task = _move(server, task, gp, status="in-progress").json()
    answer = _post(
        server,
        {
            "resourceType": "DocumentReference",
            "status": "current",
            "subject": {"reference": "Patient/p1"},
            "author": [{"reference": "Practitioner/cardio"}],
            "content": [
                {
                    "attachment": {
                        "contentType": "text/plain",
                        "data": base64.b64encode("Arrêt de l'hydroxyzine.".encode()).decode(),
                    }
                }
            ],
        },
        cardio,
    )
    done = _move(
        server,
        task,
        cardio,
        status="completed",
        output=[
            {
                "type": {"text": "compte rendu"},
                "valueReference": {"reference": f"DocumentReference/{answer['id']}"},
            }
        ],
    )
    assert done.status_code == 200, done.text
    assert _acts(done.json()) == ["TE2"]
    assert _move(server, done.json(), cardio, status="in-progress").status_code == 409

    # The GP reads the answer.
    seen = server.client.get(f"/fhir/Task/{task['id']}", headers=gp).json()
    assert seen["status"] == "completed" and seen["executionPeriod"]["end"]
    report_id = seen["output"][0]["valueReference"]["reference"]
    report = server.client.get(f"/fhir/{report_id}", headers=gp).json()
    text = base64.b64decode(report["content"][0]["attachment"]["data"]).decode()
    assert text == "Arrêt de l'hydroxyzine."
    steps = server.client.get(f"/api/teleexpertise/{task['id']}/steps", headers=gp).json()
    assert list(steps["reached"]) == [
        "requested",
        "accepted",
        "in-progress",
        "on-hold",
        "completed",
    ]

    # Someone with no care relationship sees nothing, and is audited.
    for path in (
        f"Task/{task['id']}",
        f"ServiceRequest/{request['id']}",
        f"Binary/{ecg['id']}",
        report_id,
    ):
        assert server.client.get(f"/fhir/{path}", headers=outsider).status_code == 403, path
    assert _ids(server, "Task?patient=p1", outsider) == []
    assert (
        server.client.get(f"/api/teleexpertise/{task['id']}/steps", headers=outsider).status_code
        == 403
    )
    refusals = server.client.get(
        f"/fhir/AuditEvent?entity=Task/{task['id']}&outcome=8", headers=server.headers("admin")
    ).json()
    assert refusals["total"] >= 1

    # The operators' billing export of the day (the network's local day: just after midnight in
    # Paris, the instant's UTC date is the day before) lists the answer's TE2 and the RQD.
    ended = datetime.fromisoformat(seen["executionPeriod"]["end"].replace("Z", "+00:00"))
    day = ended.astimezone(server.settings.zone).date().isoformat()
    export = server.client.get(
        f"/api/billing/acts?from={day}&to={day}", headers=server.headers("admin")
    )
    assert export.status_code == 200, export.text
    billed = list(csv.DictReader(io.StringIO(export.text)))
    assert sorted(
        (r["task"], r["act_code"], r["practitioners"], r["billed_by"]) for r in billed
    ) == [
        (f"Task/{task['id']}", "RQD", "Practitioner/gp", "midwife|nurse|physician|physiotherapist"),
        (f"Task/{task['id']}", "TE2", "Practitioner/cardio", "physician"),
    ]

    # A file altered on disk no longer passes its checksum: refused, never served.
    (server.settings.files_dir / digest[:2] / digest).write_bytes(ECG + b"tampered")
    tampered = server.client.get(f"/fhir/Binary/{ecg['id']}", headers=gp)
    assert tampered.status_code == 409
    assert "checksum" in tampered.json()["issue"][0]["diagnostics"]


def test_pooled_request_reaches_the_pool_and_goes_overdue(
    server: Server, people: dict, coordinator: dict[str, str]
) -> None:
    gp, cardio, outsider = people["gp"], people["cardio"], people["outsider"]
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    late = _post(server, {**POOLED_REQUEST, "restriction": {"period": {"end": past}}}, gp)
    assert late["restriction"]["recipient"] == [{"reference": "Organization/ch"}]
    assert _ids(server, "Task?owner=HealthcareService/cardio-pool", cardio) == [late["id"]]
    fresh = {k: v for k, v in late.items() if k not in ("id", "meta", "restriction")}
    on_time = _post(server, fresh, gp)
    assert on_time["restriction"]["period"]["end"] > datetime.now(UTC).isoformat()
    for headers in (coordinator, cardio, gp):
        response = server.client.get("/api/teleexpertise/overdue", headers=headers)
        assert response.status_code == 200
        ids = [e["resource"]["id"] for e in response.json()["entry"]]
        assert ids == [late["id"]], ids
    assert on_time["id"] not in ids
    assert server.client.get("/api/teleexpertise/overdue", headers=outsider).json()["total"] == 0
    assert server.client.get("/api/teleexpertise/overdue").status_code == 401


def test_attachment_limits_store_nothing(server: Server, people: dict) -> None:
    gp = people["gp"]
    server.settings.max_attachment_bytes = 1000
    cases = [
        ("application/pdf", b"x" * 1001, 413),
        ("application/x-msdownload", b"MZ", 415),
    ]
    for media, content, status in cases:
        binary = {
            "resourceType": "Binary",
            "contentType": media,
            "securityContext": {"reference": "Patient/p1"},
            "data": base64.b64encode(content).decode(),
        }
        response = server.client.post("/fhir/Binary", json=binary, headers=gp)
        assert response.status_code == status
        assert response.json()["resourceType"] == "OperationOutcome"
        document = {
            "resourceType": "DocumentReference",
            "status": "current",
            "subject": {"reference": "Patient/p1"},
            "content": [{"attachment": {"contentType": media, "data": binary["data"]}}],
        }
        response = server.client.post("/fhir/DocumentReference", json=document, headers=gp)
        assert response.status_code == status
    admin = server.headers("admin")
    assert _ids(server, "Binary", admin) == []
    assert _ids(server, "DocumentReference", admin) == []
    assert not server.settings.files_dir.exists()
    no_patient = {"resourceType": "Binary", "contentType": "application/pdf", "data": "JVBE"}
    assert server.client.post("/fhir/Binary", json=no_patient, headers=gp).status_code == 403


def test_a_pool_member_finds_and_takes_a_pooled_request(
    server: Server, people: dict, coordinator: dict[str, str]
) -> None:
    gp, cardio = people["gp"], people["cardio"]
    server.put(practitioner_role("gp-role", "gp", "msp"), coordinator)
    task = _post(server, POOLED_REQUEST, gp)
    member = Principal(
        1, "c@x", Role.PRACTITIONER, practitioner="Practitioner/cardio", site="Location/ch-site",
        organization="Organization/ch",
    )  # fmt: skip
    requester = Principal(
        2, "g@x", Role.PRACTITIONER, practitioner="Practitioner/gp", site="Location/msp-site",
        organization="Organization/msp",
    )  # fmt: skip
    with transaction(server.app.state.sessions) as session:
        assert pools_of(session, member) == ["HealthcareService/cardio-pool"]
        assert pools_of(session, requester) == ["PractitionerRole/gp-role"]
    owners = "HealthcareService/cardio-pool,Practitioner/cardio"
    assert _ids(server, f"Task?owner={owners}&status=requested", cardio) == [task["id"]]
    assert in_pool(task, member) and not in_pool(task, requester)
    with pytest.raises(DomainError) as refused:
        claim(task, requester)
    assert status_of(refused.value) == 403

    # Over plain FHIR too: the requester sees the patient, yet may not take the pool's request.
    grabbed = _move(server, task, gp, owner={"reference": "Practitioner/gp"}, status="accepted")
    assert grabbed.status_code == 403, grabbed.text
    assert "member of the pool" in grabbed.json()["issue"][0]["diagnostics"]
    taken = _move(server, task, cardio, **claim(task, member))
    assert taken.status_code == 200, taken.text
    body = taken.json()
    assert body["owner"] == {"reference": "Practitioner/cardio"} and body["status"] == "accepted"
    assert body["restriction"]["recipient"] == [{"reference": "Organization/ch"}]
    assert not is_pooled(body)
    with pytest.raises(DomainError) as again:
        claim(body, member)
    assert status_of(again.value) == 409
