"""Undoing a no-show or a cancellation (issue #18), through ``PUT /fhir/Appointment``: within
the window, by whoever made it (or a coordinator), the slots and the participants booked again
by the booking rules; otherwise 409 and nothing changed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from api_server import Server
from sqlalchemy import select
from test_appointments import assisted, assisted_network, book, invitation, statuses, update

from maillage.care import policy
from maillage.store.database import transaction
from maillage.store.models import OutboxMessage, ResourceVersion

Body = dict[str, Any]


@pytest.fixture
def net(server: Server, coordinator: dict[str, str]) -> Server:
    return assisted_network(server, coordinator)


@pytest.fixture
def doctor(net: Server) -> dict[str, str]:
    return net.headers("practitioner", practitioner="Practitioner/doctor")


def marked(net: Server, headers: dict[str, str], status: str, hour: str = "09") -> Body:
    """A booked assisted teleconsultation at ``hour``, then made ``status`` by ``headers``."""
    booked = book(net, headers, assisted(hour, f"dr-{hour}", f"room-{hour}"))
    changed = update(net, headers, {**booked, "status": status})
    assert changed.status_code == 200, changed.text
    return dict(changed.json())


def back(net: Server, headers: dict[str, str], body: Body) -> Any:
    return update(net, headers, {**body, "status": "booked"})


def stored(net: Server, headers: dict[str, str], ident: str) -> Body:
    return dict(net.client.get(f"/fhir/Appointment/{ident}", headers=headers).json())


def unslotted(hour: str, patient: str) -> Body:
    """An assisted teleconsultation at ``hour`` that takes no slot (its people are held)."""
    body = assisted(hour, patient=patient)
    del body["slot"]
    return body


def messages(net: Server) -> int:
    with transaction(net.app.state.sessions) as session:
        return len(session.execute(select(OutboxMessage.id)).all())


def age(net: Server, ident: str, minutes: int) -> None:
    """Make the appointment's versions as if written ``minutes`` earlier."""
    with transaction(net.app.state.sessions) as session:
        rows = session.execute(
            select(ResourceVersion).where(
                ResourceVersion.resource_type == "Appointment", ResourceVersion.id == ident
            )
        ).scalars()
        for row in rows:
            row.last_updated -= timedelta(minutes=minutes)


def refused(response: Any, code: str) -> str:
    assert response.status_code == 409, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == code
    return str(outcome["issue"][0]["diagnostics"])


def test_the_doctor_undoes_a_no_show_within_the_window(
    net: Server, doctor: dict[str, str], coordinator: dict[str, str]
) -> None:
    absent = marked(net, doctor, "noshow")
    assert statuses(net, doctor, "dr-09", "room-09") == ["free", "free"]
    assert policy.STATUS_BY not in str(absent)  # the server's bookkeeping stays inside
    told = messages(net)
    undone = back(net, doctor, absent)
    assert undone.status_code == 200, undone.text
    assert stored(net, doctor, absent["id"])["status"] == "booked"
    assert statuses(net, doctor, "dr-09", "room-09") == ["busy", "busy"]
    assert messages(net) == told  # a no-show told nobody, nor does its undoing
    # The patient is held again for that time: another booking of them then is refused.
    clash = {**unslotted("09", "patient-2"), "id": "other"}
    assert "Patient/patient-2" in refused(update(net, coordinator, clash), "conflict")


def test_a_cancellation_undone_is_sent_again_with_a_higher_sequence(
    net: Server, doctor: dict[str, str]
) -> None:
    cancelled = marked(net, doctor, "cancelled")
    _, event = invitation(net, doctor, cancelled["id"])
    assert (event["STATUS"], event["SEQUENCE"]) == ("CANCELLED", 1)
    told = messages(net)
    assert back(net, doctor, cancelled).status_code == 200
    calendar, event = invitation(net, doctor, cancelled["id"])
    assert (calendar["METHOD"], event["STATUS"], event["SEQUENCE"]) == ("REQUEST", "CONFIRMED", 2)
    assert messages(net) == told + 3  # the doctor, the nurse and the patient told again
    assert statuses(net, doctor, "dr-09", "room-09") == ["busy", "busy"]


def test_after_the_window_the_undo_is_refused(net: Server, doctor: dict[str, str]) -> None:
    absent = marked(net, doctor, "noshow")
    age(net, absent["id"], minutes=16)
    reason = refused(back(net, doctor, absent), "business-rule")
    assert "more than 15 minutes ago" in reason
    assert stored(net, doctor, absent["id"])["status"] == "noshow"
    assert statuses(net, doctor, "dr-09", "room-09") == ["free", "free"]


def test_only_whoever_marked_it_or_a_coordinator_undoes_it(
    net: Server, doctor: dict[str, str], coordinator: dict[str, str]
) -> None:
    absent = marked(net, doctor, "noshow")
    nurse = net.headers("practitioner", practitioner="Practitioner/nurse")  # takes part too
    colleague = net.headers("practitioner", practitioner="Practitioner/doctor")  # another account
    for other in (nurse, colleague):
        assert "only whoever made it noshow" in refused(back(net, other, absent), "business-rule")
    forged = {**absent, "meta": {"tag": [{"system": policy.STATUS_BY, "code": "1"}]}}
    for user_id in range(1, 10):  # a client's tag of that system is never believed
        forged["meta"]["tag"][0]["code"] = str(user_id)
        refused(update(net, nurse, {**forged, "status": "booked"}), "business-rule")
    assert statuses(net, doctor, "dr-09", "room-09") == ["free", "free"]
    assert back(net, coordinator, absent).status_code == 200
    assert stored(net, doctor, absent["id"])["status"] == "booked"


def test_it_goes_back_only_to_the_status_it_had(net: Server, doctor: dict[str, str]) -> None:
    absent = marked(net, doctor, "noshow")
    reason = refused(update(net, doctor, {**absent, "status": "arrived"}), "business-rule")
    assert "booked before" in reason
    assert back(net, doctor, absent).status_code == 200
    again = update(net, doctor, {**stored(net, doctor, absent["id"]), "status": "cancelled"})
    assert again.status_code == 200  # a new change, undone on its own terms


def test_a_slot_taken_meanwhile_is_a_conflict_and_nothing_changes(
    net: Server, doctor: dict[str, str], coordinator: dict[str, str]
) -> None:
    absent = marked(net, doctor, "noshow")
    other = book(net, coordinator, assisted("09", "dr-09", "room-09", patient="patient-1"))
    response = back(net, doctor, absent)
    assert "Slot/" in refused(response, "conflict")
    assert stored(net, doctor, absent["id"])["status"] == "noshow"
    assert stored(net, doctor, other["id"])["status"] == "booked"
    assert statuses(net, doctor, "dr-09", "room-09") == ["busy", "busy"]


def test_a_participant_booked_meanwhile_is_a_conflict(
    net: Server, doctor: dict[str, str], coordinator: dict[str, str]
) -> None:
    absent = marked(net, doctor, "noshow")
    book(net, coordinator, unslotted("09", "patient-1"))  # the doctor held for that time
    assert "Practitioner/doctor" in refused(back(net, doctor, absent), "conflict")
    assert stored(net, doctor, absent["id"])["status"] == "noshow"
    assert statuses(net, doctor, "dr-09", "room-09") == ["free", "free"]
