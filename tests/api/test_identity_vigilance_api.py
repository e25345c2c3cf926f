"""The API's door to the RNIV rules: « qualifiée » refused (409) without an identity service,
the identity-vigilance operation for coordinators with a reason."""

from __future__ import annotations

from api_server import Server
from fhir_samples import VALID_NIR, organization, patient


def _vigilance(body: dict[str, object], reason: object) -> dict[str, object]:
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": body},
            {"name": "reason", "valueString": reason},
        ],
    }


def test_qualifiee_gets_409_without_an_identity_service(
    server: Server, coordinator: dict[str, str]
) -> None:
    server.put(organization("msp-1"), coordinator)
    response = server.client.put(
        "/fhir/Patient/p",
        json=patient("p", "msp-1", nir=VALID_NIR, status="QUAL"),
        headers=coordinator,
    )
    assert response.status_code == 409, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "qualifiée" in response.json()["issue"][0]["diagnostics"]


def test_the_vigilance_operation_is_a_coordinators_with_a_reason(
    server: Server, coordinator: dict[str, str], admin: dict[str, str]
) -> None:
    server.put(organization("msp-1"), coordinator)
    server.put(patient("p", "msp-1", nir=VALID_NIR), coordinator)
    corrected = patient("p", "msp-1", nir=VALID_NIR)
    corrected["birthDate"] = "1948-03-12"
    url = "/fhir/Patient/p/$identity-vigilance"
    refused = server.client.post(url, json=_vigilance(corrected, "acte vu"), headers=admin)
    assert refused.status_code == 403
    unexplained = server.client.post(url, json=_vigilance(corrected, " "), headers=coordinator)
    assert unexplained.status_code == 400
    done = server.client.post(url, json=_vigilance(corrected, "acte vu"), headers=coordinator)
    assert done.status_code == 200, done.text
    assert server.client.get("/fhir/Patient/p", headers=coordinator).json()["birthDate"] == (
        "1948-03-12"
    )
