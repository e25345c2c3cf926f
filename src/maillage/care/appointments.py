"""Appointment rules beyond booking: the lifecycle, the video room and the ICS invitation.

A teleconsultation is an Appointment whose ``serviceType`` carries the coding
``urn:maillage:workflow|teleconsultation`` (assisted at a site when a Location takes part,
follow-up at home otherwise). When it becomes booked the server gives it a Jitsi Meet room,
stored as the extension ``urn:maillage:video-room`` (valueString, the room name only: links are
built per user, signed when a Jitsi secret is set). Clients cannot choose or change the room.

Cancelled, no-show, fulfilled and entered-in-error are final: such an appointment only moves
on to entered-in-error, except that a no-show or a cancellation may be undone shortly after
(:mod:`maillage.care.undo`); rebooking makes a new Appointment. (Slots are freed by
:mod:`maillage.care.booking` as soon as the status stops holding them, and taken again by an
undo.)

The ICS SEQUENCE is derived from the stored versions: it rises each time the period changes
(reschedule), when the appointment is cancelled and when a cancellation is undone, so nothing
extra is stored for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from maillage.care import invitations, video
from maillage.care.codes import TELECONSULTATION, VIDEO_ROOM_URL, WORKFLOW_SYSTEM
from maillage.care.errors import Conflict, Unprocessable
from maillage.care.principal import Principal
from maillage.config import Settings
from maillage.store import resources
from maillage.store.models import Resource, ResourceVersion, StoredResource
from maillage.store.search_params import normalise_reference, parse_moment

UPCOMING = frozenset({"pending", "booked", "arrived", "checked-in"})
"""Statuses of an appointment still to take place: a teleconsultation then has its video room
and its participants are told of each change."""
HOLDS_TIME = UPCOMING | {"fulfilled"}
"""Statuses in which an appointment holds its slots and its people's time (booking)."""
FINAL = frozenset({"fulfilled", "cancelled", "noshow", "entered-in-error"})
"""Statuses an appointment leaves only for entered-in-error."""
LINK_VALIDITY = timedelta(hours=1)
"""How long after the end of the appointment a signed video link still opens the room."""

Body = dict[str, Any]


def is_teleconsultation(body: Body) -> bool:
    """Whether an Appointment is a teleconsultation (by its ``serviceType`` coding)."""
    return any(
        coding.get("system") == WORKFLOW_SYSTEM and coding.get("code") == TELECONSULTATION
        for concept in body.get("serviceType", [])
        for coding in concept.get("coding", [])
    )


def room(body: Body | None) -> str | None:
    """The video room name stored on an appointment, if any."""
    for extension in (body or {}).get("extension", []):
        if extension.get("url") == VIDEO_ROOM_URL:
            return extension.get("valueString")
    return None


def prepare(body: Body, previous: Body | None, *, undoing: bool = False) -> Body:
    """Refuse leaving a final status (unless ``undoing`` a no-show or cancellation, which
    :mod:`maillage.care.undo` allowed); keep (or give, once booked) a teleconsultation's room."""
    if previous is not None and not undoing:
        before, after = previous.get("status"), body.get("status")
        if before in FINAL and after not in (before, "entered-in-error"):
            raise Conflict(
                f"Appointment is {before}; it cannot become {after} (book a new one)",
                code="business-rule",
            )
    name = room(previous) or (
        video.new_room_name()
        if is_teleconsultation(body) and body.get("status") in UPCOMING
        else None
    )
    if name is None and room(body) is None:
        return body
    body = {**body}  # only the top level changes: its own list of extensions
    kept = [e for e in body.get("extension", []) if e.get("url") != VIDEO_ROOM_URL]
    if name is not None:
        kept.append({"url": VIDEO_ROOM_URL, "valueString": name})
    if kept:
        body["extension"] = kept
    else:
        body.pop("extension", None)
    return body


def sequence(session: Session, appointment_id: str) -> int:
    """The ICS SEQUENCE: one more for each reschedule, the cancellation and its undoing."""
    bodies = session.execute(
        select(ResourceVersion.body)
        .where(ResourceVersion.resource_type == "Appointment", ResourceVersion.id == appointment_id)
        .order_by(ResourceVersion.version_id)
    ).scalars()
    count, last = 0, None
    for body in bodies:
        if last is not None:
            if (body.get("start"), body.get("end")) != (last.get("start"), last.get("end")):
                count += 1
            if body.get("status") == "cancelled" and last.get("status") != "cancelled":
                count += 1
            if last.get("status") == "cancelled" and body.get("status") in UPCOMING:
                count += 1  # the cancellation undone
        last = body
    return count


def email_of(body: Body) -> str | None:
    """The first e-mail address among a person's ``telecom``."""
    return next(
        (
            t["value"]
            for t in body.get("telecom", [])
            if t.get("system") == "email" and "value" in t
        ),
        None,
    )


def display_name(body: Body) -> str | None:
    """A readable name of a person or place, for invitations and messages."""
    names = body.get("name")
    if isinstance(names, str):
        return names
    for name in names or []:
        parts = [*name.get("given", []), name.get("family", "")]
        return name.get("text") or " ".join(p for p in parts if p) or None
    return None


def live(session: Session, reference: str) -> Resource | None:
    """The live resource a ``Type/id`` reference names, or None (unknown or deleted)."""
    resource_type, _, resource_id = reference.partition("/")
    row = resources.get(session, resource_type, resource_id)
    return None if row is None or row.deleted else row


def people(
    lookup: resources.Lookup, body: Body
) -> tuple[list[tuple[str, invitations.Participant]], str | None]:
    """The invited people with an e-mail address (with their resource type), and the site
    (Location) as text; ``lookup`` reads the participants (and a role's practitioner)."""
    found: list[tuple[str, invitations.Participant]] = []
    place = None
    actors = [
        (participant, normalise_reference((participant.get("actor") or {}).get("reference", "")))
        for participant in body.get("participant", [])
    ]
    rows = lookup([reference for _, reference in actors if reference])
    for participant, reference in actors:
        row = rows.get(reference) if reference else None
        if row is None or participant.get("status") == "declined":
            continue
        if row.resource_type == "Location":
            city = (row.body.get("address") or {}).get("city")
            place = ", ".join(p for p in (row.body.get("name"), city) if p)
            continue
        person = row.body
        if row.resource_type == "PractitionerRole" and email_of(person) is None:
            doctor = normalise_reference((person.get("practitioner") or {}).get("reference", ""))
            practitioner = lookup([doctor]).get(doctor) if doctor else None
            person = practitioner.body if practitioner is not None else person
        address = email_of(person)
        if address:
            found.append(
                (row.resource_type, invitations.Participant(address, display_name(person)))
            )
    return found, place


def _jitsi(settings: Settings) -> video.JitsiConfig:
    secret = settings.jitsi_secret.get_secret_value() if settings.jitsi_secret else None
    return video.JitsiConfig(settings.jitsi_url, settings.jitsi_app_id if secret else None, secret)


def _instant(text: str | None) -> datetime:
    if text is None:
        raise Unprocessable("the appointment has no start and end yet", code="business-rule")
    moment = parse_moment(text)
    if moment.tzinfo is None:
        raise Unprocessable(f"appointment time {text!r} has no offset", code="business-rule")
    return moment


def invitation(
    session: Session, settings: Settings, row: Resource, user: video.VideoUser
) -> invitations.Invitation:
    """The invitation for a stored appointment, its video link made for ``user``."""
    invited, place = people(partial(resources.live_many, session), row.body)
    return invitation_of(settings, row, user, invited, place, sequence(session, row.id))


def invitation_of(
    settings: Settings,
    row: StoredResource,
    user: video.VideoUser,
    invited: list[tuple[str, invitations.Participant]],
    place: str | None,
    changes: int,
) -> invitations.Invitation:
    """The invitation of an appointment whose people, place and ICS SEQUENCE (``changes``)
    were read."""
    body = row.body
    start, end = _instant(body.get("start")), _instant(body.get("end"))
    name = room(body)
    link = None
    if name is not None:
        link = video.room_url(_jitsi(settings), name, user, end + LINK_VALIDITY)
    summary = "Téléconsultation" if is_teleconsultation(body) else "Rendez-vous"
    try:
        return invitations.Invitation(
            appointment_id=row.id,
            start=start,
            end=end,
            summary=body.get("description") or summary,
            organizer=invitations.Participant(settings.mail_from, "maillage"),
            attendees=[person for _, person in invited],
            location=place,
            video_url=link,
            timezone=settings.timezone,
            sequence=changes,
            cancelled=body.get("status") == "cancelled",
        )
    except ValueError as error:
        raise Unprocessable(str(error), code="business-rule") from error


def uid_domain(settings: Settings) -> str:
    """The domain of the invitations' UIDs: the sender's, so that it never changes."""
    return settings.mail_from.rpartition("@")[2] or "maillage.invalid"


def ics(session: Session, settings: Settings, row: Resource, who: Principal) -> bytes:
    """The ICS file of a stored appointment; its video link is the caller's own."""
    moderator = who.role.value in ("practitioner", "coordinator")
    user = video.VideoUser(who.email, who.email, moderator=moderator)
    event = invitation(session, settings, row, user)
    return invitations.to_ics(event, uid_domain=uid_domain(settings))


def video_url(settings: Settings, body: Body, user: video.VideoUser) -> str | None:
    """The video room link of an appointment already read (the same one its invitation
    carries), made for ``user``; None without a room."""
    name = room(body)
    if name is None:
        return None
    return video.room_url(_jitsi(settings), name, user, _instant(body.get("end")) + LINK_VALIDITY)
