"""Booking takes the slot in the appointment's own transaction: never twice, freed on cancel."""

from __future__ import annotations

from typing import Any

import pytest
from api_server import Server, race_to_book
from fhir_samples import appointment, consent, network


@pytest.fixture
def net(server: Server, coordinator: dict[str, str]) -> Server:
    for body in network():
        server.put(body, coordinator)
    return server


def _booking(patient: str = "patient-2", status: str = "booked") -> dict[str, Any]:
    body = appointment("x", patient, "doctor", "site-2", "2026-03-02T09:00:00+01:00")
    del body["id"]
    return {**body, "status": status, "slot": [{"reference": "Slot/slot-1"}]}


def _slot_status(server: Server, headers: dict[str, str]) -> str:
    return server.client.get("/fhir/Slot/slot-1", headers=headers).json()["status"]


def test_booking_takes_and_cancelling_frees_the_slot(
    net: Server, coordinator: dict[str, str]
) -> None:
    booked = net.client.post("/fhir/Appointment", json=_booking(), headers=coordinator)
    assert booked.status_code == 201, booked.text
    assert _slot_status(net, coordinator) == "busy"
    again = net.client.post("/fhir/Appointment", json=_booking("patient-1"), headers=coordinator)
    assert again.status_code == 409
    assert again.json()["resourceType"] == "OperationOutcome"
    cancelled = {**booked.json(), "status": "cancelled"}
    path = f"/fhir/Appointment/{cancelled['id']}"
    assert net.client.put(path, json=cancelled, headers=coordinator).status_code == 200
    assert _slot_status(net, coordinator) == "free"
    rebooked = net.client.post("/fhir/Appointment", json=_booking("patient-1"), headers=coordinator)
    assert rebooked.status_code == 201
    deleted = net.client.delete(f"/fhir/Appointment/{rebooked.json()['id']}", headers=coordinator)
    assert deleted.status_code == 204
    assert _slot_status(net, coordinator) == "free"


def test_proposals_do_not_take_slots(net: Server, coordinator: dict[str, str]) -> None:
    proposed = _booking(status="proposed")
    assert net.client.post("/fhir/Appointment", json=proposed, headers=coordinator).is_success
    assert _slot_status(net, coordinator) == "free"


def test_unknown_slot_is_refused(net: Server, coordinator: dict[str, str]) -> None:
    body = {**_booking(), "slot": [{"reference": "Slot/none"}]}
    assert net.client.post("/fhir/Appointment", json=body, headers=coordinator).status_code == 422


def test_an_appointment_happens_inside_the_slots_it_takes(
    net: Server, coordinator: dict[str, str]
) -> None:
    """Slot 1 is 09:00-09:20 Paris time: booking 10:00 in it, or moving there later, is 422."""
    late = {**_booking(), "start": "2026-03-02T10:00:00+01:00", "end": "2026-03-02T10:20:00+01:00"}
    refused = net.client.post("/fhir/Appointment", json=late, headers=coordinator)
    assert refused.status_code == 422, refused.text
    assert "outside Slot/slot-1" in refused.json()["issue"][0]["diagnostics"]
    assert _slot_status(net, coordinator) == "free"
    booked = net.client.post("/fhir/Appointment", json=_booking(), headers=coordinator).json()
    moved = {**booked, "start": late["start"], "end": late["end"]}
    path = f"/fhir/Appointment/{booked['id']}"
    assert net.client.put(path, json=moved, headers=coordinator).status_code == 422
    shorter = {**booked, "end": "2026-03-02T09:15:00+01:00"}
    assert net.client.put(path, json=shorter, headers=coordinator).status_code == 200


def test_withdrawn_consent_blocks_booking(net: Server, coordinator: dict[str, str]) -> None:
    def book() -> Any:
        return net.client.post("/fhir/Appointment", json=_booking(), headers=coordinator)

    net.put(consent("consent-2", "patient-2", status="inactive"), coordinator)
    response = book()
    assert response.status_code == 422
    assert "consent" in response.json()["issue"][0]["diagnostics"]
    assert _slot_status(net, coordinator) == "free"
    # A later consent to research says nothing of treatment: still withdrawn.
    research = consent("consent-3", "patient-2")
    research["scope"]["coding"][0]["code"] = "research"
    net.put(research, coordinator)
    assert book().status_code == 422
    denied = {**consent("consent-4", "patient-2"), "provision": {"type": "deny"}}
    net.put(denied, coordinator)
    assert book().status_code == 422
    net.put(consent("consent-5", "patient-2"), coordinator)
    assert book().is_success


def _at(patient: str, start: str, end: str) -> dict[str, Any]:
    body = appointment("x", patient, "doctor", "site-2", start)
    del body["id"]
    return {**body, "status": "booked", "end": end}


def test_one_person_is_never_booked_twice_at_once(net: Server, coordinator: dict[str, str]) -> None:
    client = net.client

    def book(patient: str, start: str, end: str) -> int:
        body = _at(patient, f"2026-05-04T{start}:00+02:00", f"2026-05-04T{end}:00+02:00")
        return client.post("/fhir/Appointment", json=body, headers=coordinator).status_code

    assert book("patient-1", "09:00", "09:20") == 201
    assert book("patient-2", "09:10", "09:30") == 409  # the doctor is busy
    assert book("patient-2", "09:20", "09:40") == 201  # back to back is fine
    found = client.get("/fhir/Appointment?date=2026-05-04", headers=coordinator).json()
    first = next(
        e["resource"]
        for e in found["entry"]
        if e["resource"]["start"].startswith("2026-05-04T09:00")
    )
    cancelled = {**first, "status": "cancelled"}
    client.put(f"/fhir/Appointment/{first['id']}", json=cancelled, headers=coordinator)
    assert book("patient-2", "08:50", "09:10") == 201


def test_a_doctor_booked_through_a_role_is_held_too(
    net: Server, coordinator: dict[str, str]
) -> None:
    """The doctor is busy at 10:00 as Practitioner: booking them as PractitionerRole is 409."""
    client = net.client
    first = _at("patient-1", "2026-05-05T10:00:00+02:00", "2026-05-05T10:20:00+02:00")
    assert client.post("/fhir/Appointment", json=first, headers=coordinator).status_code == 201
    second = _at("patient-2", "2026-05-05T10:10:00+02:00", "2026-05-05T10:30:00+02:00")
    second["participant"][1]["actor"] = {"reference": "PractitionerRole/doctor-role"}
    clash = client.post("/fhir/Appointment", json=second, headers=coordinator)
    assert clash.status_code == 409, clash.text
    assert "Practitioner/doctor" in clash.json()["issue"][0]["diagnostics"]


def test_concurrent_bookings_of_one_person(net: Server, coordinator: dict[str, str]) -> None:
    bodies = [
        _at(f"p{n}", "2026-05-05T10:00:00+02:00", f"2026-05-05T10:{n + 10}:00+02:00")
        for n in range(8)
    ]
    assert race_to_book(net, coordinator, bodies) == [201] + [409] * 7


def test_concurrent_bookings_of_one_slot(net: Server, coordinator: dict[str, str]) -> None:
    attempts = 8
    bodies = [_booking(f"p{n}") for n in range(attempts)]
    statuses = race_to_book(net, coordinator, bodies)
    assert statuses == [201] + [409] * (attempts - 1)
    found = net.client.get("/fhir/Appointment?status=booked", headers=coordinator).json()
    assert found["total"] == 1
