"""Requests that once ended in a 500 (issue 14): each is now a 4xx OperationOutcome."""

from __future__ import annotations

import jwt
import pytest
from api_server import Server
from fhir_samples import organization, practitioner, schedule

from maillage.api.auth import ALGORITHM, AUDIENCE


def _refused(response, status: int = 400) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body


@pytest.mark.parametrize("name", ["_count", "_offset"])
def test_unicode_digits_in_paging_are_refused(
    server: Server, coordinator: dict[str, str], name: str
) -> None:
    # '²'.isdigit() is True, int('²') raises: any non-ASCII digit is refused.
    for value in ("²", "١٢", "５"):
        _refused(server.client.get(f"/fhir/Organization?{name}={value}", headers=coordinator))


def test_unicode_digits_in_if_match_are_refused(
    server: Server, coordinator: dict[str, str]
) -> None:
    server.put(organization("msp-1"), coordinator)
    # Header bytes are read as Latin-1: 0xB2 arrives as '²'.
    headers = {**coordinator, "If-Match": 'W/"²"'.encode("latin-1")}
    response = server.client.put(
        "/fhir/Organization/msp-1", json=organization("msp-1"), headers=headers
    )
    _refused(response)


def test_a_5000_digit_integer_is_refused(server: Server, coordinator: dict[str, str]) -> None:
    body = b'{"resourceType": "Organization", "name": "x", "extension": [{"url": "u", '
    body += b'"valueInteger": ' + b"9" * 5000 + b"}]}"
    headers = {**coordinator, "Content-Type": "application/fhir+json"}
    _refused(server.client.post("/fhir/Organization", content=body, headers=headers))


def test_a_backslash_reference_search_is_refused_or_empty(
    server: Server, coordinator: dict[str, str]
) -> None:
    response = server.client.get("/fhir/Slot?schedule=\\", headers=coordinator)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        assert response.json()["total"] == 0


def test_a_bundle_put_without_id_is_refused(server: Server, coordinator: dict[str, str]) -> None:
    entry = {
        "resource": {"resourceType": "Organization", "name": "x"},
        "request": {"method": "PUT", "url": "Organization/None"},
    }
    body = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
    _refused(server.client.post("/fhir", json=body, headers=coordinator))
    entry["request"]["url"] = "Organization"
    _refused(server.client.post("/fhir", json=body, headers=coordinator))


def test_a_bundle_entry_of_unknown_type_is_refused(
    server: Server, coordinator: dict[str, str]
) -> None:
    for resource in ({"resourceType": "Medication"}, {"resourceType": "NoSuchType"}, {}):
        entry = {"resource": resource, "request": {"method": "POST", "url": "Medication"}}
        body = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
        response = server.client.post("/fhir", json=body, headers=coordinator)
        assert 400 <= response.status_code < 500, response.text


def test_slots_generated_at_the_end_of_time_are_refused(
    server: Server, coordinator: dict[str, str]
) -> None:
    server.put(practitioner("dr-1"), coordinator)
    server.put(schedule("sch-1", "Practitioner/dr-1"), coordinator)
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "start", "valueDate": "9999-12-31"},
            {"name": "end", "valueDate": "9999-12-31"},
            {"name": "slotMinutes", "valuePositiveInt": 20},
            {
                "name": "availability",
                "part": [
                    {"name": "daysOfWeek", "valueCode": "fri"},
                    {"name": "availableStartTime", "valueTime": "09:00:00"},
                    {"name": "availableEndTime", "valueTime": "12:00:00"},
                ],
            },
        ],
    }
    response = server.client.post(
        "/fhir/Schedule/sch-1/$generate-slots", json=parameters, headers=coordinator
    )
    assert 400 <= response.status_code < 500, response.text


def test_a_signed_token_whose_subject_is_not_a_number_is_refused(server: Server) -> None:
    for subject in ("admin", "²", "1e3", ""):
        claims = {"sub": subject, "role": "admin", "aud": AUDIENCE, "exp": 4_000_000_000}
        token = jwt.encode(claims, server.settings.signing_key, algorithm=ALGORITHM)
        response = server.client.get("/fhir/Patient", headers={"Authorization": f"Bearer {token}"})
        _refused(response, 401)


def test_non_ascii_digits_are_refused_in_dates_and_versions(
    server: Server, coordinator: dict[str, str]
) -> None:
    server.put(organization("msp-1"), coordinator)
    _refused(server.client.get("/fhir/Slot?start=２０２６", headers=coordinator))
    _refused(server.client.get("/fhir/Organization/msp-1/_history/５", headers=coordinator), 422)
