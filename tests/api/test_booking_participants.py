"""Every participant of a booked appointment is held, slot or no slot; statuses come from
their R4 value sets (issue 14: a room was double-booked 200 times out of 200)."""

from __future__ import annotations

from typing import Any

import pytest
from api_server import Server, race_to_book
from fhir_samples import appointment, location, network


@pytest.fixture
def net(server: Server, coordinator: dict[str, str]) -> Server:
    for body in [*network(), location("room-1", "msp-2", city="Verdun")]:
        server.put(body, coordinator)
    return server


def _in_room(n: int, start: str = "2026-06-01T10:00:00+02:00") -> dict[str, Any]:
    """A booked appointment without a slot: patient pN, doctor dN, in room-1."""
    body = appointment("x", f"p{n}", f"d{n}", "room-1", start)
    del body["id"]
    return {**body, "status": "booked"}


def test_a_room_is_never_booked_twice_at_once(net: Server, coordinator: dict[str, str]) -> None:
    assert race_to_book(net, coordinator, [_in_room(n) for n in range(12)]) == [201] + [409] * 11
    clash = net.client.post("/fhir/Appointment", json=_in_room(99), headers=coordinator)
    assert clash.status_code == 409
    assert "Location/room-1" in clash.json()["issue"][0]["diagnostics"]
    later = _in_room(98, "2026-06-01T11:00:00+02:00")
    assert net.client.post("/fhir/Appointment", json=later, headers=coordinator).status_code == 201


def test_crossed_participants_never_end_in_a_500(net: Server, coordinator: dict[str, str]) -> None:
    """Bookings naming the same two doctors in opposite orders, at once: one wins, the others
    get 409 (on PostgreSQL a deadlock is retried, then a 409)."""
    bodies = []
    for n in range(10):
        body = _in_room(n)
        body["participant"] = body["participant"][:1] + [
            {"actor": {"reference": ref}, "status": "accepted"}
            for ref in (("Practitioner/a", "Practitioner/b")[:: 1 if n % 2 else -1])
        ]
        bodies.append(body)
    assert race_to_book(net, coordinator, bodies) == [201] + [409] * 9


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "nonsense"), ("participant.status", "maybe-later"), ("status", None)],
)
def test_statuses_outside_their_value_sets_are_refused(
    net: Server, coordinator: dict[str, str], field: str, value: str | None
) -> None:
    body = _in_room(1)
    if field == "status":
        body["status"] = value
    else:
        body["participant"][2]["status"] = value
    answer = net.client.post("/fhir/Appointment", json=body, headers=coordinator)
    assert answer.status_code == 400, answer.text
    assert answer.json()["resourceType"] == "OperationOutcome"


def test_a_cancelled_appointment_is_not_booked_again(
    net: Server, coordinator: dict[str, str]
) -> None:
    """Not even by an undo, when ``MAILLAGE_UNDO_MINUTES`` is 0 (see test_appointment_undo)."""
    net.app.state.settings = net.settings.model_copy(update={"undo_minutes": 0})
    made = net.client.post("/fhir/Appointment", json=_in_room(1), headers=coordinator).json()
    path = f"/fhir/Appointment/{made['id']}"
    cancelled = {**made, "status": "cancelled"}
    assert net.client.put(path, json=cancelled, headers=coordinator).status_code == 200
    again = {**cancelled, "status": "booked"}
    assert net.client.put(path, json=again, headers=coordinator).status_code == 409
