"""Assisted teleconsultations: doctor's and site's slots taken together, the video room, the ICS
invitation through reschedule and cancellation, no-show, and the final statuses."""

from __future__ import annotations

import threading
from email import message_from_bytes
from email import policy as email_policy
from typing import Any

import jwt
import pytest
from api_server import Server
from fhir_samples import network, practitioner, schedule, slot
from icalendar import Calendar
from pydantic import SecretStr
from sqlalchemy import select

from maillage.store.database import transaction
from maillage.store.models import OutboxMessage

TELECONSULTATION = {"coding": [{"system": "urn:maillage:workflow", "code": "teleconsultation"}]}
ROOM = "urn:maillage:video-room"


@pytest.fixture
def net(server: Server, coordinator: dict[str, str]) -> Server:
    return assisted_network(server, coordinator)


def assisted_network(server: Server, coordinator: dict[str, str]) -> Server:
    """The sample network, the doctor and site-2's nurse with e-mail addresses, and their
    slots at 09:00, 10:00 and 11:00 on 2 March 2026."""
    doctor = {
        **practitioner("doctor"),
        "telecom": [{"system": "email", "value": "dr.martin@mssante.example"}],
    }
    nurse = {
        **practitioner("nurse", rpps="10000000017"),
        "telecom": [{"system": "email", "value": "ide.site2@mssante.example"}],
    }
    bodies = [doctor if b["id"] == "doctor" else b for b in network()]
    for body in bodies:
        if body["id"] == "patient-2":
            body["telecom"] = [{"system": "email", "value": "jeanne.lefevre@example.org"}]
    for body in [*bodies, nurse, schedule("room-schedule", "Location/site-2")]:
        server.put(body, coordinator)
    for hour in ("09", "10", "11"):
        start, end = f"2026-03-02T{hour}:00:00+01:00", f"2026-03-02T{hour}:20:00+01:00"
        server.put(slot(f"dr-{hour}", "doctor-schedule", start, end), coordinator)
        server.put(slot(f"room-{hour}", "room-schedule", start, end), coordinator)
    return server


def assisted(hour: str, *slots: str, patient: str = "patient-2") -> dict[str, Any]:
    """A booked assisted teleconsultation at site-2 with the doctor and the site's nurse."""
    participants = [f"Patient/{patient}", "Practitioner/doctor", "Practitioner/nurse"]
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "serviceType": [TELECONSULTATION],
        "start": f"2026-03-02T{hour}:00:00+01:00",
        "end": f"2026-03-02T{hour}:20:00+01:00",
        "slot": [{"reference": f"Slot/{s}"} for s in slots],
        "participant": [
            *({"actor": {"reference": r}, "status": "accepted"} for r in participants),
            {"actor": {"reference": "Location/site-2"}, "status": "accepted"},
        ],
    }


def statuses(net: Server, headers: dict[str, str], *slots: str) -> list[str]:
    return [net.client.get(f"/fhir/Slot/{s}", headers=headers).json()["status"] for s in slots]


def book(net: Server, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = net.client.post("/fhir/Appointment", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def update(net: Server, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return net.client.put(f"/fhir/Appointment/{body['id']}", json=body, headers=headers)


def invitation(net: Server, headers: dict[str, str], appointment_id: str) -> Any:
    response = net.client.get(f"/fhir/Appointment/{appointment_id}/$ics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    return calendar, calendar.walk("VEVENT")[0]


def room_of(body: dict[str, Any]) -> str:
    return next(e["valueString"] for e in body["extension"] if e["url"] == ROOM)


def test_doctor_and_site_slots_are_taken_together_or_not_at_all(
    net: Server, coordinator: dict[str, str]
) -> None:
    book(net, coordinator, assisted("09", "dr-09", "room-09"))
    assert statuses(net, coordinator, "dr-09", "room-09") == ["busy", "busy"]
    taken = net.client.get("/fhir/Slot/room-10", headers=coordinator).json()
    net.put({**taken, "status": "busy-unavailable"}, coordinator)
    refused = net.client.post(
        "/fhir/Appointment", json=assisted("10", "dr-10", "room-10"), headers=coordinator
    )
    assert refused.status_code == 409
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert statuses(net, coordinator, "dr-10") == ["free"]  # rolled back with the site's slot


def test_follow_up_at_home_takes_only_the_doctors_slot(
    net: Server, coordinator: dict[str, str]
) -> None:
    body = assisted("11", "dr-11")
    body["participant"] = body["participant"][:2]
    booked = book(net, coordinator, body)
    assert statuses(net, coordinator, "dr-11", "room-11") == ["busy", "free"]
    assert room_of(booked).startswith("maillage-")


def test_invitation_follows_reschedule_and_cancellation(
    net: Server, coordinator: dict[str, str]
) -> None:
    booked = book(net, coordinator, assisted("09", "dr-09", "room-09"))
    room = room_of(booked)
    calendar, event = invitation(net, coordinator, booked["id"])
    assert (calendar["METHOD"], event["SEQUENCE"], event["STATUS"]) == ("REQUEST", 0, "CONFIRMED")
    assert str(event["URL"]) == f"https://meet.jit.si/{room}"
    attendees = sorted(str(a) for a in event.get("ATTENDEE"))
    assert attendees == [
        "mailto:dr.martin@mssante.example",
        "mailto:ide.site2@mssante.example",
        "mailto:jeanne.lefevre@example.org",
    ]
    assert "Site site-2" in str(event["LOCATION"])

    moved = {
        **assisted("10", "dr-10", "room-10"),
        "id": booked["id"],
        "extension": [{"url": ROOM, "valueString": "maillage-chosen-by-client"}],
    }
    response = update(net, coordinator, moved)
    assert response.status_code == 200, response.text
    assert room_of(response.json()) == room  # the server keeps its unguessable room
    assert statuses(net, coordinator, "dr-09", "room-09") == ["free", "free"]
    assert statuses(net, coordinator, "dr-10", "room-10") == ["busy", "busy"]
    _, event = invitation(net, coordinator, booked["id"])
    assert event["SEQUENCE"] == 1
    assert event["DTSTART"].dt.isoformat() == "2026-03-02T10:00:00+01:00"

    cancelled = update(net, coordinator, {**response.json(), "status": "cancelled"})
    assert cancelled.status_code == 200
    assert statuses(net, coordinator, "dr-10", "room-10") == ["free", "free"]
    calendar, event = invitation(net, coordinator, booked["id"])
    assert (calendar["METHOD"], event["SEQUENCE"], event["STATUS"]) == ("CANCEL", 2, "CANCELLED")

    nurse = net.headers("practitioner", practitioner="Practitioner/nurse")
    reopened = update(net, nurse, {**cancelled.json(), "status": "booked"})
    assert reopened.status_code == 409  # not the one who cancelled (see test_appointment_undo)
    assert reopened.json()["issue"][0]["code"] == "business-rule"
    assert statuses(net, coordinator, "dr-10", "room-10") == ["free", "free"]


def test_no_show_frees_the_slots(net: Server, coordinator: dict[str, str]) -> None:
    booked = book(net, coordinator, assisted("09", "dr-09", "room-09"))
    assert update(net, coordinator, {**booked, "status": "noshow"}).status_code == 200
    assert statuses(net, coordinator, "dr-09", "room-09") == ["free", "free"]
    assert book(net, coordinator, assisted("09", "dr-09", "room-09", patient="patient-1"))


def test_signed_video_link_and_audited_invitation(
    net: Server, coordinator: dict[str, str], admin: dict[str, str]
) -> None:
    secret = "jitsi-shared-secret-" + "s" * 32
    net.app.state.settings = net.settings.model_copy(update={"jitsi_secret": SecretStr(secret)})
    booked = book(net, coordinator, assisted("09", "dr-09", "room-09"))
    doctor = net.headers("practitioner", practitioner="Practitioner/doctor")
    _, event = invitation(net, doctor, booked["id"])
    url, _, token = str(event["URL"]).partition("?jwt=")
    assert url == f"https://meet.jit.si/{room_of(booked)}"
    claims = jwt.decode(
        token, secret, algorithms=["HS256"], audience="jitsi", options={"verify_exp": False}
    )
    assert claims["exp"] == 1772443200  # 2026-03-02T09:20 Paris (08:20Z), plus one hour
    assert claims["room"] == room_of(booked) and claims["iss"] == "maillage"
    assert claims["context"]["user"]["moderator"] is True

    stranger = net.headers("practitioner", practitioner="Practitioner/other")
    refused = net.client.get(f"/fhir/Appointment/{booked['id']}/$ics", headers=stranger)
    assert refused.status_code == 403
    query = f"/fhir/AuditEvent?entity=Appointment/{booked['id']}&subtype=read"
    outcomes = sorted(
        e["resource"]["outcome"] for e in net.client.get(query, headers=admin).json()["entry"]
    )
    assert outcomes == ["0", "8"]


def test_concurrent_bookings_of_one_site_slot(net: Server, coordinator: dict[str, str]) -> None:
    """Two doctors race for the same site slot: one booking wins, the other doctor's slot stays
    free (the losing transaction is rolled back whole)."""
    net.put(practitioner("doctor-2", rpps="10000000025"), coordinator)
    net.put(schedule("doctor-2-schedule", "Practitioner/doctor-2"), coordinator)
    start, end = "2026-03-02T09:00:00+01:00", "2026-03-02T09:20:00+01:00"
    net.put(slot("dr2-09", "doctor-2-schedule", start, end), coordinator)
    first = assisted("09", "dr-09", "room-09", patient="patient-1")
    second = assisted("09", "dr2-09", "room-09")
    second["participant"][1]["actor"]["reference"] = "Practitioner/doctor-2"
    del second["participant"][2]  # no shared person: only the site's slot is contended
    barrier, answers = threading.Barrier(2), []

    def post(body: dict[str, Any]) -> None:  # on the app's one event loop: see race_to_book
        barrier.wait()
        answers.append(net.client.post("/fhir/Appointment", json=body, headers=coordinator))

    threads = [threading.Thread(target=post, args=(body,)) for body in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [201, 409]
    winner = next(a.json() for a in answers if a.status_code == 201)
    taken = {s["reference"].removeprefix("Slot/") for s in winner["slot"]}
    doctor_slots = ["dr-09", "dr2-09"]
    assert statuses(net, coordinator, "room-09", *doctor_slots) == [
        "busy",
        *("busy" if s in taken else "free" for s in doctor_slots),
    ]


def confirmations(net: Server) -> list[tuple[str, str, int, str]]:
    """(recipient, METHOD, SEQUENCE, video link) of each queued confirmation, in order."""
    with transaction(net.app.state.sessions) as session:
        rows = session.execute(select(OutboxMessage).order_by(OutboxMessage.created)).scalars()
        messages = [message_from_bytes(row.message, policy=email_policy.default) for row in rows]
    found = []
    for message in messages:
        [part] = list(message.iter_attachments())
        assert part.get_content_type() == "text/calendar"
        calendar = Calendar.from_ical(part.get_content())
        event = calendar.walk("VEVENT")[0]
        found.append((message["To"], calendar["METHOD"], event["SEQUENCE"], str(event["URL"])))
    return found


def test_confirmation_emails_carry_the_invitation(net: Server, coordinator: dict[str, str]) -> None:
    booked = book(net, coordinator, assisted("09", "dr-09", "room-09"))
    link = f"https://meet.jit.si/{room_of(booked)}"
    people = [
        "jeanne.lefevre@example.org",
        "dr.martin@mssante.example",
        "ide.site2@mssante.example",
    ]
    assert sorted(confirmations(net)) == sorted((p, "REQUEST", 0, link) for p in people)
    noted = update(net, coordinator, {**booked, "comment": "apporter l'ordonnance"})
    assert noted.status_code == 200 and len(confirmations(net)) == 3
    moved = update(net, coordinator, {**assisted("10", "dr-10", "room-10"), "id": booked["id"]})
    assert moved.status_code == 200
    assert sorted(confirmations(net)[3:]) == sorted((p, "REQUEST", 1, link) for p in people)
    cancelled = update(net, coordinator, {**moved.json(), "status": "cancelled"})
    assert cancelled.status_code == 200
    assert sorted(confirmations(net)[6:]) == sorted((p, "CANCEL", 2, link) for p in people)


def test_a_doctor_booked_through_their_role_is_told_at_their_own_address(
    net: Server, coordinator: dict[str, str]
) -> None:
    """A PractitionerRole without an e-mail stands for its Practitioner, who gets the message
    (the role's practitioner was read as a row, not a body, and the booking failed)."""
    body = assisted("11", "dr-11", "room-11")
    body["participant"][1] = {
        "actor": {"reference": "PractitionerRole/doctor-role"},
        "status": "accepted",
    }
    book(net, coordinator, body)
    assert "dr.martin@mssante.example" in [to for to, *_ in confirmations(net)]
