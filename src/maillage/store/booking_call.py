"""A booking's reads and its one write on psycopg's asynchronous pool, from the event loop.

:mod:`maillage.care.booking_call` prepares a booking in Python; this module runs what it needs
of PostgreSQL without SQLAlchemy's execution nor a worker thread: the reads its rules need
(SQLAlchemy Core queries compiled to psycopg's SQL), then the whole write as one call of the
PL/pgSQL function ``maillage_book`` (migration 0014), which answers the schedules of the slots
it took or raises a refusal of its own SQLSTATE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any, NamedTuple

import psycopg
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from sqlalchemy import ClauseElement

from maillage.store.psycopg_sql import Statement, compiled
from maillage.store.resources import StoreError

CONFLICT, BUSINESS_RULE = "MB409", "MB422"
"""The SQLSTATEs of ``maillage_book``'s refusals: a slot or period taken, a rule broken."""
TRANSIENT = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected


class Refused(StoreError):
    """``maillage_book`` refused the booking: ``state`` says how (:data:`CONFLICT`, or
    :data:`BUSINESS_RULE`), the message what, in the ordinary path's words."""

    def __init__(self, state: str, message: str) -> None:
        super().__init__(message)
        self.state = state


class Clash(StoreError):
    """A participant was already held for the same time, by a committed or a concurrent
    transaction (the exclusion constraint of ``booked_period``, which alone checks it)."""


class Transient(StoreError):
    """PostgreSQL aborted the call to break a deadlock or a serialisation failure: run again."""


BOOK = "SELECT maillage_book(%(booking)s, %(messages)s)"


_COLUMNS = ("resource_type", "id", "version_id", "last_updated", "deleted", "body")
_LIVE = (
    f"SELECT {', '.join(_COLUMNS)} FROM fhir_resource WHERE resource_type = ANY(%(types)s::text[])"
    " AND id = ANY(%(ids)s::text[]) AND NOT deleted"
)
"""The live resources of some references, one statement whatever their number: each type
with each id, the pairs not asked for left out afterwards (the primary key answers both lists
at once, and PostgreSQL plans no join: a third of the replayed booking's planning, issue 23)."""

HOPS = {"PractitionerRole": "practitioner", "Patient": "managingOrganization"}
"""The reference a booking's rules follow one hop further from a participant of these types:
a role's practitioner (who is held), a patient's organisation (the e-mails)."""
RELATIVE = re.compile(r"[A-Z][A-Za-z]+/[A-Za-z0-9.-]{1,64}", re.ASCII)
"""A hop :data:`_READ` follows itself: a relative ``Type/id`` reference (others, absolute or
versioned, are read by a second statement)."""
_READ = (
    "SELECT * FROM maillage_booking_reads(%(types)s::text[], %(ids)s::text[], %(patients)s::text[])"
)
"""All that a booking's rules read, as one call (migration 0018): the live resources of some
references (as :data:`_LIVE`), those their rows reference one hop further (:data:`HOPS`), and
the consents of some patients, each marked with its patient (``consent_of``). One statement
costs the server half the CPU of the same two in psycopg's pipeline mode (issue 23: 0.24 ms
against 0.47 ms a booking); a function keeps its plan in the backend, where the statement was
planned anew by any client that did not prepare it (four times its run)."""


@dataclass(slots=True)
class Row:
    """A row of ``fhir_resource`` read here, or the booking about to be written: a
    :class:`maillage.store.models.StoredResource` without the cost of an ORM object."""

    resource_type: str
    id: str
    version_id: int
    last_updated: datetime
    deleted: bool
    body: dict[str, Any]


class Read(NamedTuple):
    """What :data:`_READ` found: resources by ``Type/id`` (pairs nobody asked for included:
    keep those asked for), and each asked patient's consents, the last written first."""

    resources: dict[str, Row]
    consents: dict[str, list[dict[str, Any]]]


async def execute(connection: AsyncConnection[Any], sql: str, params: dict[str, Any]) -> list:
    """Run one statement and fetch its rows. Every statement of a booking goes through here
    (the benchmark's replay records them, a test counts them)."""
    cursor = await connection.execute(sql, params)
    return await cursor.fetchall()


async def rows(connection: AsyncConnection[Any], statement: ClauseElement, **values: Any) -> list:
    """The rows of a Core query, run on the asynchronous connection."""
    return await execute(connection, *compiled(statement, **values))


def _keys(references: list[str]) -> set[tuple[str, ...]]:
    return {tuple(reference.split("/", 1)) for reference in references if "/" in reference}


def _lists(keys: set[tuple[str, ...]]) -> dict[str, list[str]]:
    types, ids = [sorted(set(column)) for column in zip(*keys, strict=True)] if keys else [[], []]
    return {"types": types, "ids": ids}


def reads(references: list[str], patients: list[str]) -> Statement:
    """The statement reading ``references``, one hop further, and ``patients``' consents
    (:data:`_READ`). Its rows go through :func:`read`."""
    return _READ, {**_lists(_keys(references)), "patients": patients}


def read(rows: list) -> Read:
    """The rows of :func:`reads`, sorted out."""
    found: dict[str, Row] = {}
    consents: dict[str, list[Row]] = {}
    for *columns, consent_of in rows:
        row = Row(*columns)
        if consent_of is None:
            found[f"{row.resource_type}/{row.id}"] = row
        else:
            consents.setdefault(consent_of, []).append(row)
    newest = {
        patient: [row.body for row in sorted(written, key=attrgetter("last_updated"), reverse=True)]
        for patient, written in consents.items()
    }
    return Read(found, newest)


async def live_many(connection: AsyncConnection[Any], references: list[str]) -> dict[str, Any]:
    """:func:`maillage.store.resources.live_many` on the asynchronous connection."""
    keys = _keys(references)
    if not keys:
        return {}
    rows = [Row(*row) for row in await execute(connection, _LIVE, _lists(keys))]
    return {
        f"{row.resource_type}/{row.id}": row for row in rows if (row.resource_type, row.id) in keys
    }


async def book(
    connection: AsyncConnection[Any], booking: dict[str, Any], messages: list[bytes]
) -> list[str]:
    """Write a prepared booking in one call (its own transaction: the connection is in
    autocommit); the schedules of the slots it took."""
    try:
        found = await execute(connection, BOOK, {"booking": Jsonb(booking), "messages": messages})
    except psycopg.errors.ExclusionViolation as error:
        raise Clash(str(error)) from error
    except psycopg.Error as error:
        if error.sqlstate in (CONFLICT, BUSINESS_RULE):
            raise Refused(error.sqlstate, error.diag.message_primary or "") from error
        if error.sqlstate in TRANSIENT:
            raise Transient(str(error)) from error
        raise
    return list(found[0][0])
