"""Booking rules applied when an Appointment is written, inside the same transaction.

An appointment that holds its slots (pending, booked, arrived, checked-in, fulfilled) takes each
free slot it names and makes it busy; one that stops holding them (cancelled, noshow, deleted,
moved to other slots) frees them. Taking a slot is a compare-and-set on the slot's version, so
of two concurrent bookings of one slot exactly one commits and the other gets 409.

Its participants (patients, practitioners, rooms, devices), slot or no slot, are also held for
its start–end period (``booked_period``): an overlapping booking of the same participant is
refused with 409, by a query and, on PostgreSQL, by an exclusion constraint that holds even
between concurrent transactions. A patient whose last
telemedicine consent was withdrawn cannot be booked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, TextClause, bindparam, delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from maillage.care.appointments import HOLDS_TIME
from maillage.care.errors import Conflict, Unprocessable
from maillage.store import resources
from maillage.store.database import insert_rows
from maillage.store.models import (
    BOOKED_PERIODS,
    RESOURCES,
    SEARCH_INDEX,
    Resource,
)
from maillage.store.search_params import PATIENT, normalise_reference, parse_date_range

WITHDRAWN = frozenset({"inactive", "rejected"})
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
PERSONS = ("Patient", "Practitioner", "Location", "Device", "RelatedPerson")
"""Participants held for an appointment's period: people, rooms and equipment alike."""
Period = tuple[datetime, datetime]
# Statements of every booking, built once (building SQLAlchemy expressions per call cost
# about as much CPU as running them).
CLASHES: dict[str, TextClause | Select[Any]] = {
    # Who of ``actors`` is held during [starts, ends), and by which appointment. PostgreSQL
    # probes the exclusion constraint's index on both its columns (the actor's hash, migration
    # 0016, and the period), actor by actor: given ``actor = ANY(...)`` and the overlap at once,
    # its planner scans that index by period alone (3-4 ms on 200,000 periods, against 0.03 ms;
    # ``OFFSET 0`` keeps the probe per actor).
    "postgresql": text(
        "SELECT a.actor, p.appointment_id FROM unnest(CAST(:actors AS text[])) AS a(actor)"
        " CROSS JOIN LATERAL (SELECT appointment_id FROM booked_period"
        " WHERE hashtextextended(actor, 0) = hashtextextended(a.actor, 0) AND actor = a.actor"
        " AND tsrange(starts, ends) && tsrange(:starts, :ends) OFFSET 0) AS p ORDER BY a.actor"
    ),
    # SQLite reads its (actor, ends) index (migration 0015).
    "sqlite": select(BOOKED_PERIODS.c.actor, BOOKED_PERIODS.c.appointment_id)
    .where(
        BOOKED_PERIODS.c.actor.in_(bindparam("actors", expanding=True)),
        BOOKED_PERIODS.c.ends > bindparam("starts"),
        BOOKED_PERIODS.c.starts < bindparam("ends"),
    )
    .order_by(BOOKED_PERIODS.c.actor),
}
CONSENTS: dict[str, TextClause | Select[Any]] = {
    # A patient's consents, the last written first. PostgreSQL gets the ids as an InitPlan
    # rather than as a join it must plan whenever the statement is not prepared (a third of
    # the replayed booking's planning, issue 23).
    "postgresql": text(
        "SELECT body FROM fhir_resource WHERE resource_type = 'Consent' AND NOT deleted"
        " AND id = ANY(ARRAY(SELECT resource_id FROM fhir_search WHERE resource_type ="
        f" 'Consent' AND param = '{PATIENT}' AND value = :patient))"
        " ORDER BY last_updated DESC"
    ),
    "sqlite": select(RESOURCES.c.body)
    .join(
        SEARCH_INDEX,
        (SEARCH_INDEX.c.resource_type == RESOURCES.c.resource_type)
        & (SEARCH_INDEX.c.resource_id == RESOURCES.c.id),
    )
    .where(
        RESOURCES.c.resource_type == "Consent",
        RESOURCES.c.deleted.is_(False),
        SEARCH_INDEX.c.param == PATIENT,
        SEARCH_INDEX.c.value == bindparam("patient"),
    )
    .order_by(RESOURCES.c.last_updated.desc()),
}


def held_slots(appointment: dict[str, Any] | None) -> set[str]:
    if appointment is None or appointment.get("status") not in HOLDS_TIME:
        return set()
    refs = (normalise_reference(s.get("reference", "")) for s in appointment.get("slot", []))
    return {ref.split("/", 1)[1] for ref in refs if ref and ref.startswith("Slot/")}


def actors(appointment: dict[str, Any], types: tuple[str, ...]) -> set[str]:
    refs = (
        normalise_reference((p.get("actor") or {}).get("reference", ""))
        for p in appointment.get("participant", [])
        if p.get("status") != "declined"
    )
    return {ref for ref in refs if ref and ref.split("/")[0] in types}


def apply(
    session: Session,
    appointment_id: str,
    new: dict[str, Any] | None,
    old: dict[str, Any] | None,
    zone: ZoneInfo,
) -> None:
    """Move slots and held periods from ``old`` to ``new`` (None: absent or deleted)."""
    taken, held = held_slots(new), held_slots(old)
    holds = new is not None and new.get("status") in HOLDS_TIME
    was_holding = old is not None and old.get("status") in HOLDS_TIME
    if new is not None and holds and not was_holding:
        for patient in actors(new, ("Patient",)):
            _check_consent(session, patient)
    period = period_of(new, zone)
    for slot_id in sorted(held - taken):
        _set_status(session, slot_id, "free", zone)
    for slot_id in sorted(taken - held):
        _set_status(session, slot_id, "busy", zone, period)
    if period is not None and old is not None and period_of(old, zone) != period:
        for slot_id in sorted(taken & held):  # the same slots kept at another time
            _check_within(resources.read(session, "Slot", slot_id), period, zone)
    if was_holding or holds:
        _hold_periods(session, appointment_id, new if holds else None, period, old is not None)


def period_of(body: dict[str, Any] | None, zone: ZoneInfo) -> Period | None:
    """An appointment's or a slot's start and end instants (naive UTC), None without both."""
    if body is None or "start" not in body or "end" not in body:
        return None
    return parse_date_range(body["start"], zone)[0], parse_date_range(body["end"], zone)[0]


def _check_within(slot: Resource, period: Period, zone: ZoneInfo) -> None:
    """An appointment happens inside each slot it takes: 422 otherwise."""
    slot_period = period_of(slot.body, zone)
    if slot_period is None:
        return
    if not (slot_period[0] <= period[0] and period[1] <= slot_period[1]):
        raise Unprocessable(
            f"the appointment ({period[0]:%Y-%m-%d %H:%M}–{period[1]:%H:%M} UTC) is outside "
            f"Slot/{slot.id} ({slot_period[0]:%Y-%m-%d %H:%M}–{slot_period[1]:%H:%M} UTC)",
            code="business-rule",
        )


def held_people(lookup: resources.Lookup, appointment: dict[str, Any]) -> set[str]:
    """The participants an appointment holds; a PractitionerRole stands for its
    practitioner (one doctor booked under two roles at once is still booked twice)."""
    people = actors(appointment, PERSONS)
    roles = sorted(actors(appointment, ("PractitionerRole",)))
    found = lookup(roles) if roles else {}
    for role in roles:
        body = found[role].body if role in found else {}
        doctor = normalise_reference((body.get("practitioner") or {}).get("reference", ""))
        people.add(doctor or role)
    return people


def _hold_periods(
    session: Session,
    appointment_id: str,
    appointment: dict[str, Any] | None,
    period: Period | None,
    stored: bool,
) -> None:
    """Hold ``appointment``'s people for ``period`` (its start and end), or release them
    (``stored``: it was stored before, and may hold some already)."""
    connection = session.connection()
    if stored:
        connection.execute(
            delete(BOOKED_PERIODS).where(BOOKED_PERIODS.c.appointment_id == appointment_id)
        )
    if appointment is None or period is None:
        return
    starts, ends = period
    people = sorted(held_people(partial(resources.live_many, session), appointment))
    if not people:
        return
    clash = CLASHES[connection.dialect.name]
    clashes = connection.execute(clash, {"actors": people, "starts": starts, "ends": ends}).all()
    if clashes:
        raise already_booked(clashes)
    periods = [
        {"appointment_id": appointment_id, "actor": actor, "starts": starts, "ends": ends}
        for actor in people
    ]
    try:
        insert_rows(connection, BOOKED_PERIODS, periods)
    except IntegrityError as error:
        raise booked_meanwhile(people) from error


def already_booked(clashes: Iterable[Sequence[Any]]) -> Conflict:
    """The refusal naming who is held then, and by which appointment (rows of :data:`CLASHES`)."""
    held = ", ".join(f"{actor} (Appointment/{other})" for actor, other in clashes)
    return Conflict(f"already booked then: {held}")


def booked_meanwhile(people: list[str]) -> Conflict:
    """The refusal when the exclusion constraint found one of ``people`` booked by a
    concurrent transaction for the same time."""
    return Conflict(f"{', '.join(people)} booked meanwhile for that time")


def _set_status(
    session: Session,
    slot_id: str,
    status: str,
    zone: ZoneInfo,
    period: Period | None = None,
) -> None:
    try:
        slot = resources.read(session, "Slot", slot_id)
    except resources.StoreError as error:
        if status == "free":
            return
        raise Unprocessable(f"cannot book Slot/{slot_id}: {error}", code="business-rule") from error
    if status == "busy" and slot.body.get("status") != "free":
        raise Conflict(f"Slot/{slot_id} is {slot.body.get('status')}, not free")
    if status == "busy" and period is not None:
        _check_within(slot, period, zone)
    resources.save(
        session,
        {**slot.body, "status": status},
        zone,
        resource_id=slot_id,
        if_match=slot.version_id,
    )


def _check_consent(session: Session, patient: str) -> None:
    """Refuse when the patient's most recent consent to treatment (scope ``treatment``; other
    consents, e.g. to research, say nothing of it) is withdrawn: inactive or rejected, or a
    ``deny`` provision."""
    connection = session.connection()
    consents = CONSENTS[connection.dialect.name]
    check_consents(patient, connection.execute(consents, {"patient": patient}).scalars())


def check_consents(patient: str, consents: Iterable[dict[str, Any]]) -> None:
    """Refuse when the latest of ``patient``'s consents (newest first) to treatment says no."""
    latest = next((body for body in consents if about_treatment(body)), None)
    if latest is not None and withdrawn(latest):
        raise Unprocessable(f"{patient} withdrew consent to telemedicine", code="business-rule")


def withdrawn(consent: dict[str, Any]) -> bool:
    """Whether a consent to treatment says no: inactive or rejected, or a ``deny`` provision."""
    denied = (consent.get("provision") or {}).get("type") == "deny"
    return consent.get("status") in WITHDRAWN or denied


def about_treatment(consent: dict[str, Any]) -> bool:
    """Whether a Consent is the patient's consent to treatment (scope ``treatment``)."""
    codings = (consent.get("scope") or {}).get("coding", [])
    # A bare "treatment" code (no system) is read as the consentscope one.
    return any(
        c.get("system") in (CONSENT_SCOPE, None) and c.get("code") == "treatment" for c in codings
    )
