"""A booking's reads and its one write on psycopg's asynchronous pool, from the event loop.

:mod:`maillage.care.booking_call` prepares a booking in Python; this module runs what it needs
of PostgreSQL without SQLAlchemy's execution nor a worker thread: the reads its rules need
(SQLAlchemy Core queries compiled to psycopg's SQL), then the whole write as one call of the
PL/pgSQL function ``maillage_book`` (migration 0014), which answers the schedules of the slots
it took or raises a refusal of its own SQLSTATE.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from sqlalchemy import ClauseElement
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect

from maillage.store.models import Resource
from maillage.store.resources import StoreError

_PSYCOPG = psycopg_dialect()
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


def compiled(statement: ClauseElement, **values: Any) -> tuple[str, dict[str, Any]]:
    """A Core query as psycopg's SQL (lists of values expanded in place) and its parameters."""
    sql, constants = _compiled(statement)
    return sql, {**constants, **values}


@lru_cache(maxsize=64)
def _compiled(statement: ClauseElement) -> tuple[str, dict[str, Any]]:
    """Compiled once per statement object: a constant query (e.g. the consents') costs its
    compilation once, about half a millisecond, not at every booking."""
    sql = statement.compile(dialect=_PSYCOPG, compile_kwargs={"render_postcompile": True})
    return str(sql), dict(sql.params)


async def execute(connection: AsyncConnection[Any], sql: str, params: dict[str, Any]) -> list:
    """Run one statement and fetch its rows: every statement of a booking goes through here
    (the benchmark's replay records them, a test counts them)."""
    cursor = await connection.execute(sql, params)
    return await cursor.fetchall()


async def rows(connection: AsyncConnection[Any], statement: ClauseElement, **values: Any) -> list:
    """The rows of a Core query, run on the asynchronous connection."""
    return await execute(connection, *compiled(statement, **values))


async def live_many(connection: AsyncConnection[Any], references: list[str]) -> dict[str, Any]:
    """:func:`maillage.store.resources.live_many` on the asynchronous connection."""
    keys = {tuple(reference.split("/", 1)) for reference in references if "/" in reference}
    if not keys:
        return {}
    types, ids = [sorted(set(column)) for column in zip(*keys, strict=True)]
    read = await execute(connection, _LIVE, {"types": types, "ids": ids})
    found = [Resource(**dict(zip(_COLUMNS, row, strict=True))) for row in read]
    return {
        f"{row.resource_type}/{row.id}": row for row in found if (row.resource_type, row.id) in keys
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
