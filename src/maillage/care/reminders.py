"""Reminders the day before an appointment, and the coordinators' daily digest of overdue
télé-expertises, queued in the outbox for its workers to send.

From ``MAILLAGE_REMINDER_HOUR`` (local time) on the day before a booked appointment, each pass
(:func:`queue_due`, run by ``maillage reminders run``) queues, for the patient and for the site
(Location), an e-mail to their ``telecom`` e-mail address and an SMS to their mobile number
(``sms``, or ``phone`` with use ``mobile``). A pass after that hour still reminds an
appointment booked later, until it starts. From the same hour each day, every active
coordinator gets one e-mail listing the open télé-expertise Tasks past their due date.

Time is the caller's ``now`` (naive UTC, as stored), never read here, so that tests move the
clock instead of sleeping. Each message's outbox id is derived from what it reminds (the
appointment and its start, the recipient and the channel; the coordinator and the day), and
queued with ``ON CONFLICT DO NOTHING``: passes may overlap or repeat, each message is queued
once, and a moved appointment is reminded again at its new time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from maillage import french_format
from maillage.care import appointments, sms, teleexpertise, video
from maillage.care.outbox import DeliveryStatus
from maillage.config import Settings
from maillage.store import resources, search
from maillage.store.models import OutboxMessage, Resource, User, table_of
from maillage.store.search_params import normalise_reference, parse_moment
from maillage.store.users import Role

Body = dict[str, Any]
OUTBOX = table_of(OutboxMessage)
_NAMESPACE = uuid.UUID("5c0e9f1e-6a7b-4d38-9c61-7f1d2a0e4b21")


@dataclass(frozen=True)
class Contact:
    """Where a patient or a site is reached: an e-mail address and a mobile number (E.164)."""

    email: str | None
    mobile: str | None


def contact(body: Body) -> Contact:
    """The first e-mail address and the first mobile number among ``telecom``."""
    mobile = None
    for telecom in body.get("telecom", []):
        texted = telecom.get("system") == "sms" or (
            telecom.get("system") == "phone" and telecom.get("use") == "mobile"
        )
        if texted and mobile is None:
            mobile = sms.mobile_number(telecom.get("value", ""))
    return Contact(appointments.email_of(body), mobile)


def reminder_horizon(now: datetime, settings: Settings) -> datetime:
    """The end (naive UTC) of the starts whose reminder is due at ``now``: an appointment on
    day D is due from the reminder hour of D − 1, so up to the end of the local day after
    ``now``'s, once that hour has passed, else of ``now``'s own day."""
    zone = settings.zone
    local = now.replace(tzinfo=UTC).astimezone(zone)
    shifted = (local - timedelta(hours=settings.reminder_hour)).date()
    end = datetime.combine(shifted + timedelta(days=2), time(), zone)
    return end.astimezone(UTC).replace(tzinfo=None)


def _booked_between(
    session: Session, settings: Settings, low: datetime, high: datetime
) -> list[Resource]:
    query = [
        ("status", "booked"),
        ("date", f"ge{resources.instant(low)}"),
        ("date", f"lt{resources.instant(high)}"),
    ]
    criteria, _ = search.parse("Appointment", query)
    statement = search.statement("Appointment", criteria, [], settings.zone)
    return list(session.scalars(statement.order_by(Resource.id)))


def _message_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "|".join(parts)))


def _row(
    now: datetime, identity: str, source: str, patient: str, recipient: str, payload: bytes
) -> Body:
    """An outbox row, due at once."""
    return {
        "id": identity,
        "created": now,
        "source": source,
        "patient": patient,
        "recipient": recipient,
        "message": payload,
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
    }


def _email(
    settings: Settings, now: datetime, recipient: str, subject: str, lines: list[str]
) -> bytes:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=appointments.uid_domain(settings))
    message["Date"] = format_datetime(now.replace(tzinfo=UTC))
    message.set_content("\n".join(["Bonjour,", "", *lines, "", "Réseau de télémédecine"]))
    return message.as_bytes()


def _queue(session: Session, rows: list[Body]) -> int:
    """Insert the rows not queued yet (by id); how many were new."""
    if not rows:
        return 0
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(OUTBOX).values(rows).on_conflict_do_nothing(index_elements=["id"])
    return len(session.execute(insert.returning(OUTBOX.c.id)).all())


@dataclass(frozen=True)
class _Appointment:
    """What a reminder says of one appointment, and to whom."""

    row: Resource
    start: datetime
    patient_ref: str
    patient: Body | None
    site: Body | None
    doctor: str | None

    def when(self, settings: Settings, now: datetime) -> str:
        """« demain, samedi 6 décembre 2026 à 09:30 » (« aujourd'hui » when booked late)."""
        local = self.start.astimezone(settings.zone)
        today = now.replace(tzinfo=UTC).astimezone(settings.zone).date()
        day = "aujourd'hui" if local.date() == today else "demain"
        return f"{day}, {french_format.day_and_time(local)}"

    @property
    def kind(self) -> str:
        if not appointments.is_teleconsultation(self.row.body):
            return "rendez-vous"
        return "téléconsultation assistée" if self.site else "téléconsultation"

    @property
    def place(self) -> str:
        if self.site is None:
            return ""
        city = (self.site.get("address") or {}).get("city")
        return ", ".join(p for p in (appointments.display_name(self.site), city) if p)


def _appointments(session: Session, rows: list[Resource]) -> list[_Appointment]:
    """Each appointment with its patient, site and doctor, read in one query for all."""
    actors = {
        row.id: [
            normalise_reference((p.get("actor") or {}).get("reference", ""))
            for p in row.body.get("participant", [])
            if p.get("status") != "declined"
        ]
        for row in rows
    }
    live = resources.live_many(session, [r for refs in actors.values() for r in refs if r])
    found = []
    for row in rows:
        people = [(r, live[r].body) for r in actors[row.id] if r in live]
        patient_ref, patient = next(
            ((r, b) for r, b in people if r.startswith("Patient/")), ("", None)
        )
        site = next((b for r, b in people if r.startswith("Location/")), None)
        doctor = next(
            (appointments.display_name(b) for r, b in people if r.startswith("Practitioner/")),
            None,
        )
        start = parse_moment(row.body["start"])
        found.append(_Appointment(row, start, patient_ref, patient, site, doctor))
    return found


def _lines(settings: Settings, item: _Appointment, when: str, to_site: bool) -> list[str]:
    """The reminder's words for the patient (with their video link) or for the site (with the
    patient's and the doctor's names)."""
    place = f", {item.place}" if item.place else ""
    lines = [f"Rappel : {item.kind} {when}{place}."]
    if to_site:
        patient = appointments.display_name(item.patient or {}) or "patient non nommé"
        lines.append(f"Patient : {patient}" + (f", avec {item.doctor}." if item.doctor else "."))
        return lines
    name = appointments.display_name(item.patient or {}) or "patient"
    user = video.VideoUser(name, contact(item.patient or {}).email or name, moderator=False)
    link = appointments.video_url(settings, item.row.body, user)
    if link:
        lines.append(f"Lien de la visioconférence : {link}")
    return lines


def _reminders(settings: Settings, now: datetime, item: _Appointment) -> list[Body]:
    """The e-mails and texts of one appointment's reminder, to its patient and its site; the
    site's text message leaves the patient unnamed."""
    rows: list[Body] = []
    when, source = item.when(settings, now), f"Appointment/{item.row.id}"
    start = resources.instant(item.start.astimezone(UTC).replace(tzinfo=None))
    for body, to_site in ((item.patient, False), (item.site, True)):
        if body is None:
            continue
        reached, lines = contact(body), _lines(settings, item, when, to_site)
        if reached.email:
            payload = _email(settings, now, reached.email, f"Rappel : {item.kind} {when}", lines)
            identity = _message_id("reminder", source, start, "email", reached.email)
            rows.append(_row(now, identity, source, item.patient_ref, reached.email, payload))
        if reached.mobile:
            text = lines[0] if to_site else " ".join(lines)
            identity = _message_id("reminder", source, start, "sms", reached.mobile)
            recipient = sms.TEL + reached.mobile
            rows.append(_row(now, identity, source, item.patient_ref, recipient, text.encode()))
    return rows


def queue_reminders(session: Session, settings: Settings, now: datetime) -> int:
    """Queue the reminders due at ``now`` that were not queued yet; how many were new."""
    rows = _booked_between(session, settings, now, reminder_horizon(now, settings))
    messages = [m for item in _appointments(session, rows) for m in _reminders(settings, now, item)]
    return _queue(session, messages)


def _overdue_lines(session: Session, settings: Settings, now: datetime) -> list[str]:
    """One line per open télé-expertise Task past its due date: what, for whom, since when,
    and its page (no patient is named in an e-mail)."""
    lines = []
    for task in session.scalars(teleexpertise.overdue(settings.zone, now)):
        due = parse_moment(task.body["restriction"]["period"]["end"]).astimezone(settings.zone)
        owner = task.body.get("owner") or {}
        to = owner.get("display") or owner.get("reference") or "non attribuée"
        what = task.body.get("description") or "Télé-expertise"
        lines.append(
            f"- {what} (demandée à {to}), attendue le {french_format.day_and_time(due)} : "
            f"/teleexpertises/{task.id}"
        )
    return lines


def queue_digest(session: Session, settings: Settings, now: datetime) -> int:
    """Queue today's digest of overdue télé-expertises to each active coordinator, from the
    reminder hour on and when some are overdue; how many were new."""
    local = now.replace(tzinfo=UTC).astimezone(settings.zone)
    if local.hour < settings.reminder_hour:
        return 0
    lines = _overdue_lines(session, settings, now)
    if not lines:
        return 0
    count = french_format.number(len(lines), 0)
    subject = f"Télé-expertises en retard le {french_format.day(local.date(), long=True)} : {count}"
    heading = f"Télé-expertises en attente au-delà de leur délai de réponse : {count}."
    coordinators = session.scalars(
        select(User.email).where(User.role == Role.COORDINATOR.value, User.active.is_(True))
    )
    day = local.date().isoformat()
    rows = [
        _row(
            now,
            _message_id("digest", email, day),
            "",
            "",
            email,
            _email(settings, now, email, subject, [heading, "", *lines]),
        )
        for email in coordinators
    ]
    return _queue(session, rows)


def queue_due(session: Session, settings: Settings, now: datetime) -> tuple[int, int]:
    """One pass: the reminders and the digests due at ``now`` (how many of each were new)."""
    return queue_reminders(session, settings, now), queue_digest(session, settings, now)
