"""Confirmation e-mails of teleconsultations, carrying their iCalendar invitation.

When a teleconsultation Appointment is booked (again, when its cancellation is undone), moved
to another time, or cancelled while booked, each participant with an e-mail telecom (doctor,
accompanying professional, patient) gets a message through the outbox (a patient without one
is told through the organisation that looks after them, such as their EHPAD, when it has an
address), written in the same transaction as the appointment. The attached invitation is the
one ``$ics`` serves (METHOD REQUEST, or CANCEL), with the video link made for that person:
professionals are Jitsi moderators, the patient is not. A no-show tells nobody, nor does its
undoing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from maillage import french_format
from maillage.care import appointments, invitations, video
from maillage.care.outbox import DeliveryStatus
from maillage.config import Settings
from maillage.store import resources
from maillage.store.models import OutboxMessage, Resource, StoredResource, utcnow
from maillage.store.search_params import normalise_reference

Body = dict[str, Any]


def _period(body: Body) -> tuple[Any, Any]:
    return body.get("start"), body.get("end")


def due(body: Body, previous: Body | None) -> bool:
    """Whether this write books, moves or cancels a teleconsultation (participants are told)."""
    if not appointments.is_teleconsultation(body):
        return False
    holds = body.get("status") in appointments.UPCOMING
    held = previous is not None and previous.get("status") in appointments.UPCOMING | {"noshow"}
    if holds:
        return not held or _period(body) != _period(previous or {})
    return held and body.get("status") == "cancelled"


def _patient(body: Body) -> str:
    for participant in body.get("participant", []):
        reference = normalise_reference((participant.get("actor") or {}).get("reference", ""))
        if reference and reference.startswith("Patient/"):
            return reference
    return ""


def _on_behalf(lookup: resources.Lookup, patient: str) -> list[tuple[str, invitations.Participant]]:
    """Who is told for a patient without an e-mail address: the organisation that looks after
    them (``managingOrganization``, e.g. their EHPAD), when it has one."""
    row = lookup([patient]).get(patient) if patient else None
    reference = ((row.body if row else {}).get("managingOrganization") or {}).get("reference", "")
    organisation = normalise_reference(reference) if reference else None
    carer = lookup([organisation]).get(organisation) if organisation else None
    address = appointments.email_of(carer.body) if carer else None
    if carer is None or address is None:
        return []
    return [("Patient", invitations.Participant(address, appointments.display_name(carer.body)))]


def _message(settings: Settings, event: invitations.Invitation, ics: bytes) -> EmailMessage:
    local = event.start.astimezone(ZoneInfo(settings.timezone))
    when = f"{french_format.day(local.date())} à {french_format.hour(local)}"
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["Subject"] = (
        f"Annulation : téléconsultation du {when}"
        if event.cancelled
        else f"Téléconsultation le {when}"
    )
    message["Message-ID"] = make_msgid(domain=appointments.uid_domain(settings))
    message["Date"] = format_datetime(datetime.now(UTC))
    lines = [
        "Bonjour,",
        "",
        f"La téléconsultation du {when} est annulée."
        if event.cancelled
        else f"Votre téléconsultation est confirmée le {when}.",
    ]
    if event.location and not event.cancelled:
        lines.append(f"Lieu : {event.location}")
    if event.video_url and not event.cancelled:
        lines.append(f"Lien de la visioconférence : {event.video_url}")
    lines += ["", "L'invitation est jointe pour votre agenda.", "", "Réseau de télémédecine"]
    message.set_content("\n".join(lines))
    method = "CANCEL" if event.cancelled else "REQUEST"
    message.add_attachment(
        ics,
        maintype="text",
        subtype="calendar",
        filename="invitation.ics",
        params={"method": method},
    )
    return message


def enqueue(session: Session, settings: Settings, row: Resource, previous: Body | None) -> None:
    """Queue the confirmation (or cancellation) of a just-written appointment, when due."""
    if not due(row.body, previous):
        return
    changes = appointments.sequence(session, row.id)
    for message in messages(settings, row, partial(resources.live_many, session), changes):
        session.add(OutboxMessage(**message))


def messages(
    settings: Settings, row: StoredResource, lookup: resources.Lookup, changes: int
) -> list[dict[str, Any]]:
    """The outbox rows telling each participant of a just-written appointment (due, see
    :func:`due`); ``lookup`` reads the people, ``changes`` is the ICS SEQUENCE."""
    invited, place = appointments.people(lookup, row.body)
    told = list(invited)
    if not any(resource_type == "Patient" for resource_type, _ in told):
        told += _on_behalf(lookup, _patient(row.body))
    rows = []
    for resource_type, person in told:
        user = video.VideoUser(
            person.name or person.email, person.email, moderator=resource_type != "Patient"
        )
        event = appointments.invitation_of(settings, row, user, invited, place, changes)
        ics = invitations.to_ics(event, uid_domain=appointments.uid_domain(settings))
        message = _message(settings, event, ics)
        message["To"] = person.email
        now = utcnow()
        rows.append(
            {
                "id": resources.new_id(),
                "created": now,
                "source": f"Appointment/{row.id}",
                "patient": _patient(row.body),
                "recipient": person.email,
                "message": message.as_bytes(),
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
            }
        )
    return rows
