"""ICS invitations: stable UID, SEQUENCE on reschedule, CANCEL on cancellation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from maillage.care.invitations import Invitation, Participant, cancelled, rescheduled, to_ics

STAMP = datetime(2026, 3, 20, 12, tzinfo=UTC)
START = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # 09:00 in Paris (summer time)


def _invitation(**changes: object) -> Invitation:
    arguments: dict = {
        "appointment_id": "appt-42",
        "start": START,
        "end": START + timedelta(minutes=30),
        "summary": "Téléconsultation assistée",
        "organizer": Participant("coordination@maillage.example", "Coordination"),
        "attendees": [
            Participant("dr.martin@medecin.mssante.fr", "Dr Martin"),
            Participant("ide.dupont@msp.example", "Infirmière Dupont", "OPT-PARTICIPANT"),
        ],
        "location": "MSP de Vic-sur-Cère, salle de téléconsultation",
        "video_url": "https://meet.example.org/maillage-0123",
    } | changes
    return Invitation(**arguments)


def _event(ics: bytes) -> tuple[Calendar, object]:
    calendar = Calendar.from_ical(ics)
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def test_request_carries_the_appointment() -> None:
    calendar, event = _event(to_ics(_invitation(), uid_domain="maillage.example", stamp=STAMP))
    assert calendar["METHOD"] == "REQUEST"
    assert event["UID"] == "appt-42@maillage.example"
    assert event.decoded("DTSTART") == START
    assert event.decoded("DTEND") == START + timedelta(minutes=30)
    assert event["SEQUENCE"] == 0
    assert event["STATUS"] == "CONFIRMED"
    assert str(event["LOCATION"]).startswith("MSP de Vic-sur-Cère")
    assert event["URL"] == "https://meet.example.org/maillage-0123"
    assert event["ORGANIZER"] == "mailto:coordination@maillage.example"
    attendees = event["ATTENDEE"]
    assert [str(a) for a in attendees] == [
        "mailto:dr.martin@medecin.mssante.fr",
        "mailto:ide.dupont@msp.example",
    ]
    assert attendees[1].params["ROLE"] == "OPT-PARTICIPANT"
    assert attendees[0].params["CN"] == "Dr Martin"


def test_local_time_zone_is_written_with_tzid_and_vtimezone() -> None:
    ics = to_ics(_invitation(timezone="Europe/Paris"), uid_domain="m.example", stamp=STAMP)
    assert b"DTSTART;TZID=Europe/Paris:20260330T090000" in ics
    calendar, event = _event(ics)
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    assert event.decoded("DTSTART") == START


def test_reschedule_keeps_uid_and_bumps_sequence_then_cancel() -> None:
    first = _invitation()
    moved = rescheduled(first, START + timedelta(days=1), START + timedelta(days=1, minutes=30))
    _, event = _event(to_ics(moved, uid_domain="maillage.example", stamp=STAMP))
    assert event["UID"] == "appt-42@maillage.example"
    assert event["SEQUENCE"] == 1
    assert event.decoded("DTSTART") == START + timedelta(days=1)

    calendar, event = _event(to_ics(cancelled(moved), uid_domain="maillage.example", stamp=STAMP))
    assert calendar["METHOD"] == "CANCEL"
    assert event["STATUS"] == "CANCELLED"
    assert event["SEQUENCE"] == 2
    assert event["UID"] == "appt-42@maillage.example"


def test_naive_or_reversed_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        _invitation(start=datetime(2026, 3, 30, 9))
    with pytest.raises(ValueError, match="after it starts"):
        _invitation(end=START)
