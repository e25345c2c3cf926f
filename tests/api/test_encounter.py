"""Teleconsultation encounters: planned → in-progress → finished with their act codes, and the
billing export of those acts."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from api_server import Server
from fhir_samples import encounter, network

ACT_URL = "urn:maillage:act-code"


@pytest.fixture
def net(server: Server, coordinator: dict[str, str]) -> Server:
    for body in network():
        server.put(body, coordinator)
    return server


def act(code: str) -> dict[str, Any]:
    return {"url": ACT_URL, "valueCoding": {"system": "urn:maillage:ngap", "code": code}}


def visit(eid: str, status: str, *codes: str, day: str = "2026-03-02") -> dict[str, Any]:
    body = encounter(eid, "patient-2", "site-2")
    body |= {
        "status": status,
        "period": {"start": f"{day}T09:00:00+01:00"},
        "participant": [{"individual": {"reference": "Practitioner/doctor"}}],
        "appointment": [{"reference": "Appointment/visit-2"}],
    }
    if codes:
        body["extension"] = [act(code) for code in codes]
    return body


def put(net: Server, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return net.client.put(f"/fhir/Encounter/{body['id']}", json=body, headers=headers)


def test_lifecycle_and_refused_transitions(net: Server, coordinator: dict[str, str]) -> None:
    assert put(net, coordinator, visit("tc-1", "planned")).status_code == 201
    skipped = put(net, coordinator, visit("tc-1", "finished", "TCG"))
    assert skipped.status_code == 409
    assert skipped.json()["issue"][0]["code"] == "business-rule"
    assert put(net, coordinator, visit("tc-1", "in-progress")).status_code == 200
    unbilled = put(net, coordinator, visit("tc-1", "finished"))
    assert unbilled.status_code == 422
    assert "TCG" in unbilled.json()["issue"][0]["diagnostics"]
    assert put(net, coordinator, visit("tc-1", "finished", "TCG", "TLL")).status_code == 200
    reopened = put(net, coordinator, visit("tc-1", "in-progress", "TCG", "TLL"))
    assert reopened.status_code == 409
    assert put(net, coordinator, visit("tc-1", "entered-in-error", "TCG")).status_code == 200


@pytest.mark.parametrize("code", ["TE2", "XYZ"])
def test_act_codes_are_checked(net: Server, coordinator: dict[str, str], code: str) -> None:
    response = put(net, coordinator, visit("tc-2", "planned", code))
    assert response.status_code == 422
    assert response.json()["resourceType"] == "OperationOutcome"


def _finish(net: Server, headers: dict[str, str], eid: str, day: str, *codes: str) -> None:
    for status in ("planned", "in-progress", "finished"):
        assert put(net, headers, visit(eid, status, *codes, day=day)).is_success


def test_billing_export_lists_the_acts_of_the_period(
    net: Server, coordinator: dict[str, str], admin: dict[str, str]
) -> None:
    _finish(net, coordinator, "tc-march", "2026-03-02", "TCG", "TLL")
    _finish(net, coordinator, "tc-april", "2026-04-01", "TC")
    assert put(net, coordinator, visit("tc-open", "planned", "TCG")).is_success
    response = net.client.get("/api/billing/acts?from=2026-03-01&to=2026-03-31", headers=admin)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["encounter"], r["act_code"], r["billed_by"]) for r in rows] == [
        ("Encounter/tc-march", "TCG", "physician"),
        ("Encounter/tc-march", "TLL", "nurse"),
    ]
    assert rows[0]["patient"] == "Patient/patient-2"
    assert rows[0]["practitioners"] == "Practitioner/doctor"
    assert rows[0]["location"] == "Location/site-2"
    searches = "/fhir/AuditEvent?entity=Patient/patient-2&subtype=search-type"
    audit = net.client.get(searches, headers=admin).json()
    assert audit["total"] == 1


def test_billing_export_is_for_operators(net: Server, coordinator: dict[str, str]) -> None:
    path = "/api/billing/acts?from=2026-03-01&to=2026-03-31"
    nurse = net.headers("site-professional", site="Location/site-2")
    assert net.client.get(path, headers=nurse).status_code == 403
    assert net.client.get(path, headers=net.headers("planner")).status_code == 403
    assert net.client.get(path).status_code == 401
    backwards = net.client.get(
        "/api/billing/acts?from=2026-03-31&to=2026-03-01", headers=coordinator
    )
    assert backwards.status_code == 400
    missing = net.client.get("/api/billing/acts?from=2026-03-31", headers=coordinator)
    assert missing.status_code == 422
    assert missing.json()["resourceType"] == "OperationOutcome"
