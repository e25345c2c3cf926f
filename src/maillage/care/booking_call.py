"""A booking as one database call from the event loop (PostgreSQL).

The ordinary create (:class:`maillage.care.work.Work`, in a worker thread) sends a booking's
statements one by one through SQLAlchemy: most of the server's CPU per booking went there and
to the thread hand-offs (issue 23). Here the same rules run on the event loop in three steps:

1. without data, in Python: the access policy on the body, validation, the video room, the
   stored body and its index rows;
2. the reads the rules need, on the connection of psycopg's asynchronous pool: for a care
   role, its care relationships; then, as one statement (one round trip), the participants with
   one hop further (a role's practitioner, a patient's organisation) and the patients'
   consents; then the confirmation e-mails and the AuditEvent are made, in Python, by the
   ordinary path's own functions;
3. the writes as one call of ``maillage_book`` (migrations 0014, 0015): each slot locked,
   checked free and around the appointment, made busy; the people held for the period (the
   exclusion constraint refuses a clash; :func:`clash_refusal` names who holds them); the
   appointment; the e-mails and the audit outbox row; in one transaction.

A refusal has the ordinary path's status, code and text, and is audited the same way (in a
worker thread: it writes through SQLAlchemy). SQLite, updates and conditional creates take the
ordinary path; the API's booking tests run on both databases and expect the same answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import anyio
from psycopg import AsyncConnection

from maillage.care import (
    appointments,
    attachments,
    audit,
    booking,
    confirmations,
    policy,
    validation,
)
from maillage.care.calls import Call
from maillage.care.errors import Conflict, DomainError, Forbidden, Unprocessable
from maillage.care.work import Written
from maillage.store import booking_call, resources
from maillage.store.models import StoredResource, utcnow
from maillage.store.search_params import extract, normalise_reference
from maillage.store.users import Role

if TYPE_CHECKING:
    from maillage.care.repository import Repository

Body = dict[str, Any]
RETRIES = 3
"""Times the call runs again after PostgreSQL aborted it for a deadlock, before a 409."""


def eligible(repository: Repository) -> bool:
    """Whether a create of an Appointment can take this path: on PostgreSQL (the pool is
    open) and for a principal the type's policy lets write; anything else, refusals first,
    goes the ordinary way, which audits them."""
    who = repository.principal
    return (
        repository.reads is not None
        and repository.refusal is None
        and who is not None
        and policy.type_refusal(who, "Appointment", write=True) is None
    )


async def book(repository: Repository, payload: Any) -> Written:
    """Create an Appointment (an :func:`eligible` repository's), refusals audited."""
    call = repository._call("Appointment", "create")
    assert repository.reads is not None
    try:
        async with repository.reads.connection() as connection:
            return await _book(call, connection, payload)
    except resources.StoreError as error:
        refusal = Unprocessable(str(error))
        await anyio.to_thread.run_sync(call.report, refusal)
        raise refusal from error
    except DomainError as error:
        await anyio.to_thread.run_sync(call.report, error)
        raise


async def _book(call: Call, connection: AsyncConnection[Any], payload: Any) -> Written:
    repository, who = call.repository, call.principal
    settings, zone = repository.settings, repository.settings.zone
    body = validation.validate("Appointment", payload)
    refusal = policy.write_refusal(who, "Appointment", policy.CREATE, None, body)
    if refusal:
        raise Forbidden(refusal)
    patients = call.compartment("new", body)
    if who.role is Role.PATIENT and not patients:
        raise Forbidden("a patient writes only resources about themselves")
    call.admit(patients, await _refused(connection, call, patients))
    body = appointments.prepare(body, None)
    body = attachments.store(settings, policy.stamped(body, None, who))
    appointment_id, now = resources.new_id(), utcnow()
    stored = resources.versioned(body, appointment_id, 1, now)
    row = booking_call.Row(
        resource_type="Appointment",
        id=appointment_id,
        version_id=1,
        last_updated=now,
        deleted=False,
        body=stored,
    )
    holds = stored.get("status") in appointments.HOLDS_TIME
    consenting = sorted(booking.actors(stored, ("Patient",))) if holds else []
    lookup, consents = await _read_rules(connection, stored, consenting)
    for patient, bodies in zip(consenting, consents, strict=True):
        booking.check_consents(patient, bodies)
    period = booking.period_of(stored, zone) if holds else None
    people = sorted(booking.held_people(lookup, stored)) if period else []
    messages = (
        confirmations.messages(settings, row, lookup, 0) if confirmations.due(stored, None) else []
    )
    call.entities.append(f"Appointment/{appointment_id}")
    prepared = {
        "id": appointment_id,
        "now": now.isoformat(),
        "instant": stored["meta"]["lastUpdated"],
        "starts": period[0].isoformat() if period else None,
        "ends": period[1].isoformat() if period else None,
        "actors": people,
        "slots": sorted(booking.held_slots(stored)),
        "body": stored,
        "index": [
            _index_row(value) for value in extract("Appointment", appointment_id, stored, zone)
        ],
        "messages": [
            {"n": n, **{key: m[key] for key in ("id", "patient", "recipient", "status")}}
            for n, m in enumerate(messages, start=1)
        ],
        "audit": audit.event(call.access(), call.entities, audit.SUCCESS, call.note),
    }
    schedules = await _write(connection, prepared, [m["message"] for m in messages], people)
    if repository.answers is not None:
        repository.answers.announce({normalise_reference(s) or s for s in schedules if s})
    return Written(row, True)


async def _refused(connection: AsyncConnection[Any], call: Call, patients: set[str]) -> set[str]:
    """:func:`maillage.care.policy.refused_patients`, read on the asynchronous connection."""
    decided = policy.refused_by_role(call.principal, patients)
    if decided is not None:
        return decided
    query = policy.linked_patients(call.principal, patients, "Appointment")
    return patients - {linked for (linked,) in await booking_call.rows(connection, query)}


async def _read_rules(
    connection: AsyncConnection[Any], body: Body, patients: list[str]
) -> tuple[resources.Lookup, list[list[Body]]]:
    """All that the booking's rules and its e-mails read, as one statement: the participants
    and one hop further, a role's practitioner and a patient's organisation (as a lookup), and
    each of ``patients``' consents (newest first, in that order). A hop that is not a relative
    ``Type/id`` reference costs a second statement."""
    references = [
        normalise_reference((p.get("actor") or {}).get("reference", "")) or ""
        for p in body.get("participant", [])
    ]
    fetched, consents = booking_call.read(
        await booking_call.execute(connection, *booking_call.reads(references, patients))
    )
    found: dict[str, StoredResource] = {r: fetched[r] for r in references if r in fetched}
    raw = [
        (found[r].body.get(booking_call.HOPS[found[r].resource_type]) or {}).get("reference") or ""
        for r in sorted(found)
        if found[r].resource_type in booking_call.HOPS
    ]
    followed = [(r, normalise_reference(r)) for r in raw]
    hops = [hop for _, hop in followed if hop]
    unread = [hop for r, hop in followed if hop and not booking_call.RELATIVE.fullmatch(r)]
    fetched |= await booking_call.live_many(connection, unread) if unread else {}
    found |= {hop: fetched[hop] for hop in hops if hop in fetched}
    read = {*references, *hops}

    def lookup(wanted: list[str]) -> dict[str, StoredResource]:
        missing = set(wanted) - read
        if missing:  # a rule reads more than this path fetched: a bug, not a refusal
            raise LookupError(f"not read before the booking: {sorted(missing)}")
        return {reference: found[reference] for reference in wanted if reference in found}

    return lookup, [consents.get(patient, []) for patient in patients]


def _index_row(value: Any) -> dict[str, Any]:
    """An index row as the function reads it from JSON (dates as ISO text)."""
    return {
        "param": value.param,
        "system": value.system,
        "value": value.value,
        "low": value.low.isoformat() if value.low else None,
        "high": value.high.isoformat() if value.high else None,
    }


async def clash_refusal(
    connection: AsyncConnection[Any], prepared: Body, people: list[str]
) -> Conflict:
    """The exclusion constraint refused to hold ``people``: who holds them then, in the
    ordinary path's words (``maillage_book`` leaves that probe to the constraint, which makes
    it anyway), or the concurrent refusal when the holder is already gone."""
    period = [datetime.fromisoformat(prepared[bound]) for bound in ("starts", "ends")]
    clash = booking.CLASHES["postgresql"]
    held = await booking_call.rows(
        connection, clash, actors=people, starts=period[0], ends=period[1]
    )
    return booking.already_booked(held) if held else booking.booked_meanwhile(people)


async def _write(
    connection: AsyncConnection[Any], prepared: Body, messages: list[bytes], people: list[str]
) -> list[str]:
    """Call ``maillage_book``, again after a deadlock; its refusals as the ordinary path's."""
    for _ in range(RETRIES + 1):
        try:
            return await booking_call.book(connection, prepared, messages)
        except booking_call.Refused as refused:
            if refused.state == booking_call.CONFLICT:
                raise Conflict(str(refused)) from refused
            raise Unprocessable(str(refused), code="business-rule") from refused
        except booking_call.Clash as clash:
            raise await clash_refusal(connection, prepared, people) from clash
        except booking_call.Transient:
            continue
    raise Conflict("concurrent writes kept colliding; send the request again")
