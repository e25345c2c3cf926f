"""Read, create, update, delete and version round trips for every supported type."""

from __future__ import annotations

import pytest
from api_server import Server
from fhir_samples import network

from maillage.care import french
from maillage.care.policy import SUPPORTED_TYPES

SAMPLES = {body["id"]: body for body in network()}


def _meaning(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("id", "meta")}


def test_every_sample_type_round_trips(server: Server, coordinator: dict[str, str]) -> None:
    for body in network():
        stored = server.put(body, coordinator)
        assert stored["meta"]["versionId"] == "1"
        read = server.client.get(f"/fhir/{body['resourceType']}/{body['id']}", headers=coordinator)
        assert read.status_code == 200
        assert read.headers["content-type"] == "application/fhir+json"
        assert read.headers["etag"] == 'W/"1"'
        assert _meaning(read.json()) == _meaning(french.outgoing(body))  # INS: qualified only
    covered = {body["resourceType"] for body in network()}
    assert covered == set(SUPPORTED_TYPES) - {"AuditEvent"}


def test_create_assigns_an_id_and_location(server: Server, coordinator: dict[str, str]) -> None:
    body = dict(SAMPLES["msp-1"])
    del body["id"]
    response = server.client.post("/fhir/Organization", json=body, headers=coordinator)
    assert response.status_code == 201
    created = response.json()
    assert created["id"]
    assert response.headers["location"] == f"Organization/{created['id']}/_history/1"


def test_update_versions_and_keeps_history(server: Server, coordinator: dict[str, str]) -> None:
    server.put(SAMPLES["msp-1"], coordinator)
    renamed = {**SAMPLES["msp-1"], "name": "MSP des Côtes de Meuse"}
    response = server.client.put("/fhir/Organization/msp-1", json=renamed, headers=coordinator)
    assert response.status_code == 200
    assert response.json()["meta"]["versionId"] == "2"
    first = server.client.get("/fhir/Organization/msp-1/_history/1", headers=coordinator)
    assert first.json()["name"] == SAMPLES["msp-1"]["name"]
    statement = server.client.get("/fhir/metadata").json()
    assert all(r["readHistory"] for r in statement["rest"][0]["resource"])


def test_a_number_beyond_64_bits_and_accents_come_back_as_sent(
    server: Server, coordinator: dict[str, str]
) -> None:
    """Answers are serialised by orjson, which refuses integers beyond 64 bits: such a
    decimal (valid FHIR) still comes back exactly, through the standard encoder."""
    huge = 123456789012345678901234567890
    extension = {"url": "https://maillage.example/ext/budget", "valueDecimal": huge}
    body = {**SAMPLES["msp-1"], "name": "MSP des Côtes de Meuse", "extension": [extension]}
    server.put(body, coordinator)
    read = server.client.get("/fhir/Organization/msp-1", headers=coordinator)
    assert read.status_code == 200
    assert read.json()["extension"][0]["valueDecimal"] == huge
    assert "Côtes".encode() in read.content  # UTF-8, not \u escapes
    found = server.client.get("/fhir/Organization?_id=msp-1", headers=coordinator)
    assert found.json()["entry"][0]["resource"]["extension"][0]["valueDecimal"] == huge


def test_if_match_refuses_a_stale_version(server: Server, coordinator: dict[str, str]) -> None:
    server.put(SAMPLES["msp-1"], coordinator)
    stale = {**coordinator, "If-Match": 'W/"7"'}
    response = server.client.put("/fhir/Organization/msp-1", json=SAMPLES["msp-1"], headers=stale)
    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"
    fresh = {**coordinator, "If-Match": 'W/"1"'}
    response = server.client.put("/fhir/Organization/msp-1", json=SAMPLES["msp-1"], headers=fresh)
    assert response.status_code == 200


@pytest.mark.parametrize("resource_id", ["patient-2", "msp-1"])
def test_delete_is_soft(server: Server, coordinator: dict[str, str], resource_id: str) -> None:
    for body in network():
        server.put(body, coordinator)
    kind = SAMPLES[resource_id]["resourceType"]
    assert (
        server.client.delete(f"/fhir/{kind}/{resource_id}", headers=coordinator).status_code == 204
    )
    gone = server.client.get(f"/fhir/{kind}/{resource_id}", headers=coordinator)
    assert gone.status_code == 410
    assert gone.json()["resourceType"] == "OperationOutcome"
    search = server.client.get(f"/fhir/{kind}?_id={resource_id}", headers=coordinator)
    assert search.json()["total"] == 0
    kept = server.client.get(f"/fhir/{kind}/{resource_id}/_history/1", headers=coordinator)
    assert kept.status_code == 200
    again = server.client.put(
        f"/fhir/{kind}/{resource_id}", json=SAMPLES[resource_id], headers=coordinator
    )
    assert again.status_code == 201
    assert again.json()["meta"]["versionId"] == "3"


def test_metadata_lists_exactly_the_supported_types(server: Server) -> None:
    response = server.client.get("/fhir/metadata")
    assert response.status_code == 200
    statement = response.json()
    resources = statement["rest"][0]["resource"]
    assert [r["type"] for r in resources] == list(SUPPORTED_TYPES)
    slot = next(r for r in resources if r["type"] == "Slot")
    assert {"schedule", "start", "status"} <= {p["name"] for p in slot["searchParam"]}
    audit = next(r for r in resources if r["type"] == "AuditEvent")
    assert {i["code"] for i in audit["interaction"]} == {"read", "vread", "search-type"}
