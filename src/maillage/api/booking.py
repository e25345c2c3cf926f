"""Booking rules applied when an Appointment is written, inside the same transaction.

An appointment that holds its slots (pending, booked, arrived, checked-in, fulfilled) takes each
free slot it names and makes it busy; one that stops holding them (cancelled, noshow, deleted,
moved to other slots) frees them. Taking a slot is a compare-and-set on the slot's version, so
of two concurrent bookings of one slot exactly one commits and the other gets 409.

Its patients and practitioners are also held for its start–end period (``booked_period``): an
overlapping booking of the same person is refused with 409, by a query and, on PostgreSQL, by
an exclusion constraint that holds even between concurrent transactions. A patient whose last
telemedicine consent was withdrawn cannot be booked.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from maillage.api.errors import FHIRError
from maillage.store import resources
from maillage.store.models import BookedPeriod, Resource, SearchEntry
from maillage.store.search_params import PATIENT, normalise_reference, parse_date_range

HOLDING = frozenset({"pending", "booked", "arrived", "checked-in", "fulfilled"})
WITHDRAWN = frozenset({"inactive", "rejected"})
PERSONS = ("Patient", "Practitioner")


def _held_slots(appointment: dict[str, Any] | None) -> set[str]:
    if appointment is None or appointment.get("status") not in HOLDING:
        return set()
    refs = (normalise_reference(s.get("reference", "")) for s in appointment.get("slot", []))
    return {ref.split("/", 1)[1] for ref in refs if ref and ref.startswith("Slot/")}


def _actors(appointment: dict[str, Any], types: tuple[str, ...]) -> set[str]:
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
    taken, held = _held_slots(new), _held_slots(old)
    holds = new is not None and new.get("status") in HOLDING
    was_holding = old is not None and old.get("status") in HOLDING
    if new is not None and holds and not was_holding:
        for patient in _actors(new, ("Patient",)):
            _check_consent(session, patient)
    for slot_id in sorted(held - taken):
        _set_status(session, slot_id, "free", zone)
    for slot_id in sorted(taken - held):
        _set_status(session, slot_id, "busy", zone)
    _hold_periods(session, appointment_id, new if holds else None, zone)


def _hold_periods(
    session: Session, appointment_id: str, appointment: dict[str, Any] | None, zone: ZoneInfo
) -> None:
    session.execute(delete(BookedPeriod).where(BookedPeriod.appointment_id == appointment_id))
    if appointment is None or "start" not in appointment or "end" not in appointment:
        return
    starts = parse_date_range(appointment["start"], zone)[0]
    ends = parse_date_range(appointment["end"], zone)[0]
    for actor in sorted(_actors(appointment, PERSONS)):
        clash = session.execute(
            select(BookedPeriod.appointment_id).where(
                BookedPeriod.actor == actor, BookedPeriod.starts < ends, BookedPeriod.ends > starts
            )
        ).first()
        if clash:
            raise FHIRError(409, f"{actor} is already booked then (Appointment/{clash[0]})")
        try:
            session.execute(
                insert(BookedPeriod).values(
                    appointment_id=appointment_id, actor=actor, starts=starts, ends=ends
                )
            )
        except IntegrityError as error:
            raise FHIRError(409, f"{actor} was booked meanwhile for that time") from error


def _set_status(session: Session, slot_id: str, status: str, zone: ZoneInfo) -> None:
    try:
        slot = resources.read(session, "Slot", slot_id)
    except resources.StoreError as error:
        if status == "free":
            return
        raise FHIRError(
            422, f"cannot book Slot/{slot_id}: {error}", code="business-rule"
        ) from error
    if status == "busy" and slot.body.get("status") != "free":
        raise FHIRError(409, f"Slot/{slot_id} is {slot.body.get('status')}, not free")
    resources.save(
        session,
        {**slot.body, "status": status},
        zone,
        resource_id=slot_id,
        if_match=slot.version_id,
    )


def _check_consent(session: Session, patient: str) -> None:
    """Refuse when the patient's most recent Consent is withdrawn (inactive or rejected)."""
    latest = session.execute(
        select(Resource.body)
        .join(
            SearchEntry,
            (SearchEntry.resource_type == Resource.resource_type)
            & (SearchEntry.resource_id == Resource.id),
        )
        .where(
            Resource.resource_type == "Consent",
            Resource.deleted.is_(False),
            SearchEntry.param == PATIENT,
            SearchEntry.value == patient,
        )
        .order_by(Resource.last_updated.desc())
        .limit(1)
    ).scalar()
    if latest is not None and latest.get("status") in WITHDRAWN:
        raise FHIRError(422, f"{patient} withdrew consent to telemedicine", code="business-rule")
