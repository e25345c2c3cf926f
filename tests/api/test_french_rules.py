"""INS-NIR and RPPS checks apply where their identifier systems are present, and only there."""

from __future__ import annotations

import pytest
from api_server import Server
from fhir_samples import CORSICAN_NIR, VALID_NIR, location, patient, practitioner

from maillage.care import french
from maillage.care.french import INSEE_EXTENSION
from maillage.care.identifiers import INS_NIR_SYSTEM, INS_TEST_SYSTEMS


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


@pytest.mark.parametrize("system", sorted(INS_TEST_SYSTEMS))
def test_test_identities_are_checked_as_ins_nir(
    server: Server, coordinator: dict[str, str], system: str
) -> None:
    body = patient("p", "msp-1")
    body["identifier"] = [{"system": system, "value": VALID_NIR}]
    server.put(body, coordinator)
    body["identifier"] = [{"system": system, "value": VALID_NIR[:-2] + "00"}]
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


def test_ins_leaves_only_for_a_qualified_identity() -> None:
    """(« qualifiée » cannot be written without an identity service: the rule on its own.)"""
    qualified = patient("p", "msp-1", nir=VALID_NIR, status="QUAL")
    assert french.outgoing(qualified)["identifier"] == qualified["identifier"]
    assert "identifier" not in french.outgoing(patient("p", "msp-1", nir=VALID_NIR))


@pytest.mark.parametrize(("status", "shown"), [("RECUP", False), ("VALI", False), ("PROV", False)])
def test_ins_stays_in_for_an_identity_not_qualified(
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


@pytest.mark.parametrize(
    ("code", "status"), [("55545", 201), ("2A004", 201), ("5554", 422), ("2C004", 422)]
)
def test_commune_codes_are_checked(
    server: Server, coordinator: dict[str, str], code: str, status: int
) -> None:
    """The commune of residence (or of a site) is an INSEE code in FR Core's address extension."""
    insee = {"url": INSEE_EXTENSION, "valueCoding": {"code": code}}
    body = patient("p", "msp-1")
    body["address"] = [{"city": "Verdun", "extension": [insee]}]
    response = server.client.put("/fhir/Patient/p", json=body, headers=coordinator)
    assert response.status_code == status, response.text
    site = location("s", "msp-1")
    site["address"]["extension"] = [insee]
    response = server.client.put("/fhir/Location/s", json=site, headers=coordinator)
    assert response.status_code == status, response.text
    if status == 422:
        assert response.json()["issue"][0]["expression"] == ["Location.address"]
