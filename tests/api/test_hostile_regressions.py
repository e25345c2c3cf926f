"""Requests that once ended in a 500 (issue 14): each is now a 4xx OperationOutcome."""

from __future__ import annotations

import jwt
import pytest
from api_server import Server
from fhir_samples import binary, organization, post_bundle, practitioner, schedule

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
        assert response.json()["entry"] == []


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


# Found by the hostile corpus (tests/api/hostile_corpus.py).


def test_paging_numbers_of_5000_digits_are_the_bounds(
    server: Server, coordinator: dict[str, str]
) -> None:
    server.put(organization("msp-1"), coordinator)
    big = "9" * 5000  # int() refuses to read more than 4,300 digits
    page = server.client.get(f"/fhir/Organization?_count={big}", headers=coordinator)
    assert page.status_code == 200, page.text
    assert page.json()["total"] == 1 and len(page.json()["entry"]) == 1
    past = server.client.get(f"/fhir/Organization?_offset={big}", headers=coordinator)
    assert past.status_code == 200, past.text
    assert past.json()["entry"] == []


@pytest.mark.parametrize("etag", ['W/"' + "1" * 5000 + '"', 'W/"1', 'W/"1", W/"2"', "W/", '""'])
def test_if_match_is_one_version_of_at_most_ten_digits(
    server: Server, coordinator: dict[str, str], etag: str
) -> None:
    server.put(organization("msp-1"), coordinator)
    headers = {**coordinator, "If-Match": etag}
    response = server.client.put(
        "/fhir/Organization/msp-1", json=organization("msp-1"), headers=headers
    )
    _refused(response)


def test_a_bundle_entry_if_match_is_honoured(server: Server, coordinator: dict[str, str]) -> None:
    server.put(organization("msp-1"), coordinator)
    server.put(organization("msp-1"), coordinator)  # now at version 2
    for if_match, status in (('W/"1"', 412), ('W/"x"', 400), ('W/"2"', 200)):
        entry = {
            "resource": organization("msp-1"),
            "request": {"method": "PUT", "url": "Organization/msp-1", "ifMatch": if_match},
        }
        response = post_bundle(server, [entry], coordinator)
        assert response.status_code == status, response.text


def test_generated_slot_minutes_must_be_a_json_number(
    server: Server, coordinator: dict[str, str]
) -> None:
    server.put(practitioner("dr-1"), coordinator)
    server.put(schedule("sch-1", "Practitioner/dr-1"), coordinator)
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "start", "valueDate": "2026-03-02"},
            {"name": "end", "valueDate": "2026-03-06"},
            {"name": "slotMinutes", "valuePositiveInt": "20"},  # the R4 models take it
            {
                "name": "availability",
                "part": [
                    {"name": "daysOfWeek", "valueCode": "mon"},
                    {"name": "availableStartTime", "valueTime": "09:00:00"},
                    {"name": "availableEndTime", "valueTime": "12:00:00"},
                ],
            },
        ],
    }
    response = server.client.post(
        "/fhir/Schedule/sch-1/$generate-slots", json=parameters, headers=coordinator
    )
    _refused(response, 422)


UNRESOLVED = "urn:uuid:7c1f7d1e-8a3a-4f5a-9b2e-0d7f3c8a1b2c"


def test_a_urn_uuid_reference_must_name_an_entry_of_the_transaction(
    server: Server, coordinator: dict[str, str]
) -> None:
    child = {"resourceType": "Organization", "name": "x", "partOf": {"reference": UNRESOLVED}}
    _refused(server.client.post("/fhir/Organization", json=child, headers=coordinator))
    entry = {"resource": child, "request": {"method": "POST", "url": "Organization"}}
    _refused(post_bundle(server, [entry], coordinator))
    parent = {
        "fullUrl": UNRESOLVED,
        "resource": {"resourceType": "Organization", "name": "parent"},
        "request": {"method": "POST", "url": "Organization"},
    }
    response = post_bundle(server, [parent, entry], coordinator)
    assert response.status_code == 200, response.text
    stored = response.json()["entry"][1]["resource"]["partOf"]["reference"]
    assert stored.startswith("Organization/") and stored != UNRESOLVED


@pytest.mark.parametrize("reference", ["urn:uuid:not-a-uuid", "urn:oid:abc", "urn:oid:1..2"])
def test_malformed_urn_references_are_refused(
    server: Server, coordinator: dict[str, str], reference: str
) -> None:
    child = {"resourceType": "Organization", "name": "x", "partOf": {"reference": reference}}
    _refused(server.client.post("/fhir/Organization", json=child, headers=coordinator))


def test_bundle_entries_share_no_full_url_nor_resource(
    server: Server, coordinator: dict[str, str]
) -> None:
    org = {"resourceType": "Organization", "name": "x"}
    twice = {
        "fullUrl": UNRESOLVED,
        "resource": org,
        "request": {"method": "POST", "url": "Organization"},
    }
    _refused(post_bundle(server, [twice, twice], coordinator))
    bad = {**twice, "fullUrl": "urn:uuid:zz"}
    _refused(post_bundle(server, [bad], coordinator))
    put = {
        "resource": organization("msp-9"),
        "request": {"method": "PUT", "url": "Organization/msp-9"},
    }
    _refused(post_bundle(server, [put, put], coordinator))
    found = server.client.get("/fhir/Organization", headers=coordinator).json()
    assert found["total"] == 0


@pytest.mark.parametrize("query", ["_id:not=msp-1", "_id:exact=msp-1", "_id=", "name:=x"])
def test_id_takes_no_modifier_and_needs_a_value(
    server: Server, coordinator: dict[str, str], query: str
) -> None:
    server.put(organization("msp-1"), coordinator)
    _refused(server.client.get(f"/fhir/Organization?{query}", headers=coordinator))


@pytest.mark.parametrize("data", ["!!!!", "====", "RUNHIGRhdGE", "-_-_", "", 12])
def test_base64_outside_the_alphabet_is_refused_not_dropped(
    server: Server, coordinator: dict[str, str], data: object
) -> None:
    # The lenient decoder dropped what it could not read: '!!!!' was stored as no bytes.
    body = binary("scan", "patient-1", data="x")
    body["data"] = data
    del body["id"]
    _refused(server.client.post("/fhir/Binary", json=body, headers=coordinator))
    body["data"] = "RUNH IGRh\ndGE="  # whitespace between groups is base64Binary
    assert server.client.post("/fhir/Binary", json=body, headers=coordinator).status_code == 201


@pytest.mark.parametrize("value", ["20260101", "2026-01-01T10:00:00.Z", "2026-1-1"])
def test_search_dates_are_in_the_fhir_format(
    server: Server, coordinator: dict[str, str], value: str
) -> None:
    _refused(server.client.get(f"/fhir/Slot?start={value}", headers=coordinator))
