"""Search parameters as the specification lists them, and paging through next links."""

from __future__ import annotations

import pytest
from api_server import Server
from fhir_samples import VALID_NIR, appointment, network, slot

from maillage.care.identifiers import INS_NIR_SYSTEM, RPPS_SYSTEM


@pytest.fixture
def loaded(server: Server, coordinator: dict[str, str]) -> dict[str, str]:
    for body in network():
        server.put(body, coordinator)
    return coordinator


def _ids(server: Server, query: str, headers: dict[str, str]) -> list[str]:
    response = server.client.get(f"/fhir/{query}", headers=headers)
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "searchset"
    return sorted(entry["resource"]["id"] for entry in bundle["entry"])


CASES = [
    (f"Patient?identifier={INS_NIR_SYSTEM}|{VALID_NIR}", ["patient-1"]),
    (f"Patient?identifier={VALID_NIR}", ["patient-1"]),
    (f"Patient?identifier=urn:other|{VALID_NIR}", []),
    ("Patient?name=lefevre", ["patient-2"]),
    ("Patient?family=DUP", ["patient-1"]),
    ("Patient?birthdate=1948", ["patient-1", "patient-2"]),
    ("Patient?birthdate=gt1948-03-02", []),
    (f"Practitioner?identifier={RPPS_SYSTEM}|10000000009", ["doctor"]),
    ("Location?address-city=verdun", ["site-2"]),
    ("Location?address-city=Bar-le-Duc&type=cabine", ["site-1"]),
    ("Location?type=urn:maillage:equipment|chariot", ["site-2"]),
    ("Organization?type=EHPAD", ["msp-2"]),
    ("Organization?type=MSP,EHPAD", ["msp-1", "msp-2"]),
    ("Organization?type:not=EHPAD", ["msp-1"]),
    ("Slot?schedule=Schedule/doctor-schedule&status=free", ["slot-1"]),
    ("Slot?schedule=doctor-schedule&start=2026-03-02", ["slot-1"]),
    ("Slot?start=ge2026-03-02T09:00:00%2B01:00&start=lt2026-03-03", ["slot-1"]),
    ("Slot?start=2026-03-03", []),
    ("Slot?status=busy", []),
    ("Appointment?patient=patient-2", ["visit-2"]),
    ("Appointment?practitioner=Practitioner/doctor&location=site-2", ["visit-2"]),
    ("Appointment?date=2026-03-02&status=proposed", ["visit-2"]),
    ("Appointment?patient=patient-1", []),
    ("Encounter?patient=patient-2&class=VR", ["encounter-2"]),
    ("Consent?patient=Patient/patient-2&status=active", ["consent-2"]),
    ("PractitionerRole?practitioner=doctor", ["doctor-role"]),
    ("HealthcareService?location=site-1", ["tlc"]),
    ("Patient?_id=patient-1,patient-2,nobody", ["patient-1", "patient-2"]),
]


def test_search_parameters(server: Server, loaded: dict[str, str]) -> None:
    found = {query: _ids(server, query, loaded) for query, _expected in CASES}
    assert found == dict(CASES)


def test_dates_without_offset_are_local_time(server: Server, coordinator: dict[str, str]) -> None:
    # 23:30 UTC on 1 March is 00:30 on 2 March in Paris: it belongs to the French day.
    server.put(slot("late", "s", "2026-03-01T23:30:00Z", "2026-03-01T23:50:00Z"), coordinator)
    assert _ids(server, "Slot?start=2026-03-02", coordinator) == ["late"]
    assert _ids(server, "Slot?start=2026-03-01", coordinator) == []


def test_paging_follows_next_links(server: Server, coordinator: dict[str, str]) -> None:
    for n in range(7):
        start = f"2026-04-0{n + 1}T10:00:00+02:00"
        server.put(appointment(f"a{n}", "p", "doctor", "site-1", start), coordinator)
    seen: list[str] = []
    url = "/fhir/Appointment?practitioner=doctor&_count=3"
    pages = 0
    while url:
        bundle = server.client.get(url, headers=coordinator).json()
        assert bundle["total"] == 7
        assert len(bundle["entry"]) <= 3
        seen += [entry["resource"]["id"] for entry in bundle["entry"]]
        following = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        url = following[0].removeprefix("http://testserver") if following else ""
        pages += 1
    assert pages == 3
    assert sorted(seen) == [f"a{n}" for n in range(7)]


def test_slot_pages_count_only_when_asked(server: Server, coordinator: dict[str, str]) -> None:
    """A slot search leaves Bundle.total out unless ``_total=accurate`` (FHIR lets a server
    leave it out): its next link comes from one row read past the page; slots come by start
    without ``_sort``; each entry's resource is the slot as a read returns it."""
    for n in range(5):  # written in reverse order of start
        start = f"2026-05-0{5 - n}T10:00:00+02:00"
        server.put(slot(f"s{n}", "s", start, start.replace(":00:00+", ":20:00+")), coordinator)
    seen: list[str] = []
    url = "/fhir/Slot?schedule=Schedule/s&status=free&start=ge2026-05-01&_count=2"
    while url:
        bundle = server.client.get(url, headers=coordinator).json()
        assert "total" not in bundle and len(bundle["entry"]) <= 2
        for entry in bundle["entry"]:
            read = server.client.get(f"/fhir/Slot/{entry['resource']['id']}", headers=coordinator)
            assert entry["resource"] == read.json()
            assert entry["fullUrl"] == f"http://testserver/fhir/Slot/{entry['resource']['id']}"
        seen += [entry["resource"]["id"] for entry in bundle["entry"]]
        following = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        url = following[0].removeprefix("http://testserver") if following else ""
    assert seen == ["s4", "s3", "s2", "s1", "s0"]
    counted = server.client.get(
        "/fhir/Slot?schedule=s&_total=accurate&_count=1", headers=coordinator
    )
    assert counted.json()["total"] == 5 and len(counted.json()["entry"]) == 1
    refused = server.client.get("/fhir/Slot?schedule=s&_total=exact", headers=coordinator)
    assert refused.status_code == 400 and "_total" in refused.text


def test_sort_by_date(server: Server, coordinator: dict[str, str]) -> None:
    for sid, hour in (("b", "10"), ("c", "11"), ("a", "09")):
        start = f"2026-03-02T{hour}:00:00+01:00"
        server.put(slot(sid, "s", start, start.replace(":00:00+", ":20:00+")), coordinator)

    def ordered(query: str) -> list[str]:
        bundle = server.client.get(f"/fhir/{query}", headers=coordinator).json()
        return [entry["resource"]["id"] for entry in bundle["entry"]]

    assert ordered("Slot?_sort=start") == ["a", "b", "c"]
    assert ordered("Slot?_sort=-start&_count=2") == ["c", "b"]


@pytest.mark.parametrize(
    "query",
    [
        "Slot?_sort=status",
        "Patient?shoe-size=44",
        "Patient?name:fuzzy=x",
        "Slot?start=tomorrow",
        "Patient?_count=many",
        "Patient?identifier=",
    ],
)
def test_bad_searches_are_400(server: Server, coordinator: dict[str, str], query: str) -> None:
    response = server.client.get(f"/fhir/{query}", headers=coordinator)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


SAMPLE_VALUES = {"token": "x", "string": "x", "reference": "Patient/x", "date": "ge2026-03-02"}


def test_every_advertised_search_parameter_is_served(server: Server, admin: dict[str, str]) -> None:
    """What the CapabilityStatement announces, the server runs: each parameter of each type,
    alone and with paging, answers a searchset Bundle."""
    statement = server.client.get("/fhir/metadata").json()
    resources = statement["rest"][0]["resource"]
    assert {r["type"] for r in resources} >= {"Slot", "Appointment", "Patient", "Location"}
    for resource in resources:
        for search_param in resource["searchParam"]:
            value = SAMPLE_VALUES[search_param["type"]]
            query = f"{resource['type']}?{search_param['name']}={value}&_count=1"
            response = server.client.get(f"/fhir/{query}", headers=admin)
            assert response.status_code == 200, (query, response.text)
            assert response.json()["type"] == "searchset", query
