"""Slot generation from availability templates, through ``Schedule/{id}/$generate-slots``."""

from __future__ import annotations

from typing import Any

import pytest
from api_server import Server
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir_samples import network, schedule


@pytest.fixture
def net(server: Server, coordinator: dict[str, str]) -> Server:
    for body in network():
        server.put(body, coordinator)
    server.put(schedule("room-schedule", "Location/site-2"), coordinator)
    return server


def template(
    start: str, end: str, zone: str | None = None, minutes: int = 20, days: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Weekdays 09:00-12:00 with a 10:20-10:40 break: 8 slots of 20 minutes a day."""
    weekdays = days or ("mon", "tue", "wed", "thu", "fri")
    parameters: list[dict[str, Any]] = [
        {"name": "start", "valueDate": start},
        {"name": "end", "valueDate": end},
        {"name": "slotMinutes", "valuePositiveInt": minutes},
        {
            "name": "availability",
            "part": [
                *({"name": "daysOfWeek", "valueCode": day} for day in weekdays),
                {"name": "availableStartTime", "valueTime": "09:00:00"},
                {"name": "availableEndTime", "valueTime": "12:00:00"},
            ],
        },
        {
            "name": "break",
            "part": [
                {"name": "start", "valueTime": "10:20:00"},
                {"name": "end", "valueTime": "10:40:00"},
            ],
        },
    ]
    if zone:
        parameters.append({"name": "timezone", "valueCode": zone})
    return {"resourceType": "Parameters", "parameter": parameters}


def generate(net: Server, headers: dict[str, str], schedule_id: str, body: dict[str, Any]) -> Any:
    return net.client.post(
        f"/fhir/Schedule/{schedule_id}/$generate-slots", json=body, headers=headers
    )


def counts(response: Any) -> dict[str, int]:
    assert response.status_code == 200, response.text
    return {p["name"]: p["valueInteger"] for p in response.json()["parameter"]}


def starts(net: Server, headers: dict[str, str], query: str) -> list[str]:
    found = net.client.get(f"/fhir/Slot?{query}&_count=500&_sort=start", headers=headers).json()
    return [entry["resource"]["start"] for entry in found["entry"]]


def test_generation_across_daylight_saving_is_idempotent(
    net: Server, coordinator: dict[str, str]
) -> None:
    # Two working weeks around the switch to summer time (Sunday 29 March 2026).
    body = template("2026-03-23", "2026-04-03")
    assert counts(generate(net, coordinator, "doctor-schedule", body)) == {
        "created": 80,
        "existing": 0,
    }
    friday = starts(net, coordinator, "schedule=Schedule/doctor-schedule&start=2026-03-27")
    monday = starts(net, coordinator, "schedule=Schedule/doctor-schedule&start=2026-03-30")
    assert friday[0] == "2026-03-27T08:00:00Z" and monday[0] == "2026-03-30T07:00:00Z"
    assert "2026-03-27T09:20:00Z" not in friday  # 10:20 local: the break
    assert len(friday) == len(monday) == 8
    wider = template("2026-03-23", "2026-04-10")
    assert counts(generate(net, coordinator, "doctor-schedule", wider)) == {
        "created": 40,
        "existing": 80,
    }
    counted = "/fhir/Slot?schedule=Schedule/doctor-schedule&_total=accurate"
    total = net.client.get(counted, headers=coordinator)
    # 120 generated slots, plus slot-1 of the sample network.
    assert total.json()["total"] == 121


def test_overseas_site_room(net: Server, coordinator: dict[str, str]) -> None:
    body = template("2026-03-28", "2026-03-29", zone="America/Cayenne", days=("sat",))
    assert counts(generate(net, coordinator, "room-schedule", body))["created"] == 8
    found = starts(net, coordinator, "schedule=Schedule/room-schedule")
    assert found[0] == "2026-03-28T12:00:00Z"  # 09:00 in French Guiana, UTC-3 all year


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (template("2026-04-10", "2026-04-01"), 422),
        (template("2026-01-01", "2027-06-01"), 422),
        (template("2026-04-01", "2026-04-02", zone="Europe/Berlin"), 422),
        (template("2026-04-01", "2026-04-02", minutes=0), 400),
        (
            {"resourceType": "Parameters", "parameter": [{"name": "start", "valueDate": "2026"}]},
            422,
        ),
        ({"resourceType": "Patient"}, 400),
    ],
)
def test_bad_templates_get_an_operation_outcome(
    net: Server, coordinator: dict[str, str], body: dict[str, Any], status: int
) -> None:
    response = generate(net, coordinator, "doctor-schedule", body)
    assert response.status_code == status, response.text
    assert response.json()["resourceType"] == "OperationOutcome"


def test_the_operators_generate_any_schedule_a_doctor_their_own(
    net: Server, coordinator: dict[str, str]
) -> None:
    body = template("2026-04-01", "2026-04-02")
    doctor = net.headers("practitioner", practitioner="Practitioner/doctor")
    assert counts(generate(net, doctor, "doctor-schedule", body))["created"] == 16
    assert generate(net, doctor, "room-schedule", body).status_code == 403
    nurse = net.headers("site-professional", site="Location/site-2")
    assert generate(net, nurse, "room-schedule", body).status_code == 403
    assert generate(net, {}, "doctor-schedule", body).status_code == 401
    assert generate(net, coordinator, "unknown", body).status_code == 404


def test_capability_statement_lists_the_operations(server: Server) -> None:
    statement = server.client.get("/fhir/metadata").json()
    CapabilityStatement.model_validate(statement)
    operations = {
        r["type"]: [o["name"] for o in r.get("operation", [])]
        for r in statement["rest"][0]["resource"]
    }
    assert operations["Schedule"] == ["generate-slots"]
    assert operations["Appointment"] == ["ics"]
