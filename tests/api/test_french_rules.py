"""INS-NIR and RPPS checks apply where their identifier systems are present, and only there."""

from __future__ import annotations

import pytest
from api_server import Server
from fhir_samples import CORSICAN_NIR, VALID_NIR, patient, practitioner

from maillage.care.identifiers import INS_NIR_SYSTEM


@pytest.mark.parametrize("nir", [VALID_NIR, CORSICAN_NIR])
def test_valid_ins_is_accepted(server: Server, coordinator: dict[str, str], nir: str) -> None:
    server.put(patient("p", "msp-1", nir=nir), coordinator)


@pytest.mark.parametrize(
    "nir", [VALID_NIR[:-2] + "00", "18505 2A012345", CORSICAN_NIR.replace("2A", "2C"), "123"]
)
def test_invalid_ins_is_refused(server: Server, coordinator: dict[str, str], nir: str) -> None:
    response = server.client.put(
        "/fhir/Patient/p", json=patient("p", "msp-1", nir=nir), headers=coordinator
    )
    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert issue["code"] == "business-rule"
    assert issue["expression"] == ["Patient.identifier[0].value"]


def test_other_identifier_systems_are_not_checked(
    server: Server, coordinator: dict[str, str]
) -> None:
    body = patient("p", "msp-1")
    body["identifier"] = [{"system": "http://hospital.example.org/mrn", "value": "123"}]
    server.put(body, coordinator)
    body["identifier"].append({"system": INS_NIR_SYSTEM, "value": "123"})
    response = server.client.put("/fhir/Patient/p", json=body, headers=coordinator)
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("rpps", "status"),
    [("10000000009", 201), ("1000000000", 422), ("10000000008", 422), ("1000000000A", 422)],
)
def test_rpps_is_checked(
    server: Server, coordinator: dict[str, str], rpps: str, status: int
) -> None:
    response = server.client.put(
        "/fhir/Practitioner/d", json=practitioner("d", rpps=rpps), headers=coordinator
    )
    assert response.status_code == status, response.text


@pytest.mark.parametrize(("status", "shown"), [("QUAL", True), ("VALI", False), ("PROV", False)])
def test_ins_leaves_only_for_a_qualified_identity(
    server: Server, coordinator: dict[str, str], status: str, shown: bool
) -> None:
    server.put(patient("p", "msp-1", nir=VALID_NIR, status=status), coordinator)
    read = server.client.get("/fhir/Patient/p", headers=coordinator).json()
    assert ("identifier" in read) is shown
    found = server.client.get(f"/fhir/Patient?identifier={VALID_NIR}", headers=coordinator).json()
    assert ("identifier" in found["entry"][0]["resource"]) is shown


def test_ins_without_identity_status_is_provisional(
    server: Server, coordinator: dict[str, str]
) -> None:
    body = patient("p", "msp-1", nir=VALID_NIR)
    del body["extension"]
    assert "identifier" not in server.put(body, coordinator)
