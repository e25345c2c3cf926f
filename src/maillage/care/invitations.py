"""iCalendar (RFC 5545/5546) invitations for appointments, built with ``icalendar``.

One appointment is one calendar event for its whole life: the UID never changes, each
reschedule raises SEQUENCE so that calendar clients replace the old time, and a cancellation
is the same UID sent with METHOD:CANCEL and a higher SEQUENCE again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//maillage//telemedicine network//FR"


@dataclass(frozen=True)
class Participant:
    """A person invited by e-mail; ``role`` is an RFC 5545 ROLE (REQ-PARTICIPANT, CHAIR …)."""

    email: str
    name: str | None = None
    role: str = "REQ-PARTICIPANT"


@dataclass(frozen=True)
class Invitation:
    """What the calendar event says; ``timezone`` set → DTSTART/DTEND with TZID, else UTC."""

    appointment_id: str
    start: datetime
    end: datetime
    summary: str
    organizer: Participant
    attendees: Sequence[Participant]
    location: str | None = None
    video_url: str | None = None
    description: str | None = None
    timezone: str | None = None
    sequence: int = 0
    cancelled: bool = False

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("appointment start and end must be aware datetimes")
        if self.start >= self.end:
            raise ValueError("appointment must end after it starts")


def rescheduled(invitation: Invitation, start: datetime, end: datetime) -> Invitation:
    """The invitation moved to a new time, SEQUENCE raised so that clients update the event."""
    return dataclasses.replace(invitation, start=start, end=end, sequence=invitation.sequence + 1)


def cancelled(invitation: Invitation) -> Invitation:
    """The invitation as cancelled; RFC 5546 wants a CANCEL to carry a higher SEQUENCE."""
    return dataclasses.replace(invitation, cancelled=True, sequence=invitation.sequence + 1)


def _address(participant: Participant, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{participant.email}")
    if participant.name:
        address.params["CN"] = vText(participant.name)
    for name, value in params.items():
        address.params[name] = vText(value)
    return address


def to_ics(invitation: Invitation, *, uid_domain: str, stamp: datetime | None = None) -> bytes:
    """The ICS file to attach to the confirmation: METHOD REQUEST, or CANCEL once cancelled.

    ``uid_domain`` (the server's host name) makes the UID globally unique; ``stamp`` is the
    DTSTAMP, now by default.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if invitation.cancelled else "REQUEST")

    event = Event()
    event.add("uid", f"{invitation.appointment_id}@{uid_domain}")
    event.add("dtstamp", (stamp or datetime.now(UTC)).astimezone(UTC))
    zone = ZoneInfo(invitation.timezone) if invitation.timezone else UTC
    event.add("dtstart", invitation.start.astimezone(zone))
    event.add("dtend", invitation.end.astimezone(zone))
    event.add("sequence", invitation.sequence)
    event.add("summary", invitation.summary)
    event.add("status", "CANCELLED" if invitation.cancelled else "CONFIRMED")
    if invitation.location:
        event.add("location", invitation.location)
    if invitation.video_url:
        event.add("url", invitation.video_url)
    if invitation.description:
        event.add("description", invitation.description)
    event.add("organizer", _address(invitation.organizer))
    for attendee in invitation.attendees:
        event.add(
            "attendee",
            _address(attendee, ROLE=attendee.role, PARTSTAT="NEEDS-ACTION", RSVP="TRUE"),
        )
    calendar.add_component(event)
    if invitation.timezone:
        calendar.add_missing_timezones()
    return calendar.to_ical()
