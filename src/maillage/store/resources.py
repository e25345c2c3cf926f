"""Reading and writing FHIR resources: versions, soft deletion and the search index in one place.

Every write goes through :func:`save` or :func:`delete`, which keep the current row, the version
history and the index rows consistent inside the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import TextClause, bindparam, insert, select, text, tuple_, update
from sqlalchemy import delete as sql_delete
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from maillage.store import one_statement_write, slot_answers, slot_calendar, statistics
from maillage.store.database import insert_rows
from maillage.store.models import (
    RESOURCES,
    SEARCH_INDEX,
    VERSIONS,
    Resource,
    ResourceVersion,
    StoredResource,
    utcnow,
)
from maillage.store.search_params import CALENDAR_ONLY, IndexValue, extract

REINDEX_BATCH = 500
#: The columns of an index row besides its resource's keys: what tells two rows apart.
INDEX_VALUES = ("param", "system", "value", "low", "high")
_KEYS = ("resource_type", "resource_id")


class StoreError(Exception):
    """A write or read the store refuses; the API maps each subclass to an HTTP status."""


class NotFound(StoreError):
    """No resource of that type and id was ever stored."""


class Gone(StoreError):
    """The resource exists but was (softly) deleted."""


class VersionConflict(StoreError):
    """Another transaction changed or created the resource first."""


class PreconditionFailed(StoreError):
    """The client's expected version (``If-Match``) is not the current one."""


def new_id() -> str:
    """A server-assigned logical id."""
    return str(uuid.uuid4())


def instant(moment: datetime) -> str:
    """A stored naive-UTC datetime as a FHIR instant."""
    return moment.replace(tzinfo=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def get(session: Session, resource_type: str, resource_id: str) -> Resource | None:
    """The current row, deleted or not."""
    return session.get(Resource, (resource_type, resource_id))


def read(session: Session, resource_type: str, resource_id: str) -> Resource:
    """The current, live version, or :class:`NotFound` / :class:`Gone`."""
    row = get(session, resource_type, resource_id)
    if row is None:
        raise NotFound(f"{resource_type}/{resource_id} is not known")
    if row.deleted:
        raise Gone(f"{resource_type}/{resource_id} was deleted")
    return row


Lookup = Callable[[list[str]], dict[str, StoredResource]]
"""The live resources named by ``Type/id`` references: :func:`live_many` on a session, or what
an asynchronous caller read beforehand (:mod:`maillage.store.booking_call`)."""


def live_many(session: Session, references: list[str]) -> dict[str, StoredResource]:
    """The live resources named by ``Type/id`` references, in one query (unknown or deleted
    ones are left out)."""
    keys = {tuple(reference.split("/", 1)) for reference in references if "/" in reference}
    if not keys:
        return {}
    query = select(RESOURCES).where(
        tuple_(RESOURCES.c.resource_type, RESOURCES.c.id).in_(sorted(keys)),
        RESOURCES.c.deleted.is_(False),
    )
    return {f"{r.resource_type}/{r.id}": r for r in session.connection().execute(query)}


def read_version(
    session: Session, resource_type: str, resource_id: str, version: int
) -> ResourceVersion:
    """One historical version, as it was written."""
    row = session.get(ResourceVersion, (resource_type, resource_id, version))
    if row is None:
        raise NotFound(f"{resource_type}/{resource_id} has no version {version}")
    return row


def save(
    session: Session,
    body: dict[str, Any],
    zone: ZoneInfo,
    *,
    resource_id: str | None = None,
    if_match: int | None = None,
    new: bool = False,
) -> Resource:
    """Create (no ``resource_id``, or an unknown one: update as create) or update a resource.
    ``new`` says that ``resource_id`` was just made up for this create: no need to look it up.

    The update is a compare-and-set on ``version_id``, so two concurrent writers of one resource
    cannot both win: the loser gets :class:`VersionConflict`. The statements are Core ones on
    the session's connection: this is the hot path of every write, and ORM bulk DML costs
    several times more CPU for the same SQL.
    """
    resource_type = body["resourceType"]
    current = get(session, resource_type, resource_id) if resource_id and not new else None
    resource_id = resource_id or new_id()
    if if_match is not None and (current is None or current.version_id != if_match):
        raise PreconditionFailed(f"{resource_type}/{resource_id} is not at version {if_match}")
    version = 1 if current is None else current.version_id + 1
    if resource_type == "Slot":
        slot_answers.touched(session, current.body if current else None, body)
    now = utcnow()
    body = versioned(body, resource_id, version, now)
    key = {"resource_type": resource_type, "id": resource_id}
    values = {"version_id": version, "last_updated": now, "deleted": False, "body": body}
    connection = session.connection()
    try:
        if connection.dialect.name == "postgresql":
            _write_at_once(connection, current, key, values, zone)
        else:
            _write_one_by_one(session, current, key, values, zone)
    except IntegrityError as error:
        raise VersionConflict(f"{resource_type}/{resource_id} was written meanwhile") from error
    if current is None:
        return Resource(**key, **values)
    for name, value in values.items():
        set_committed_value(current, name, value)
    return current


def create_many(
    session: Session, bodies: list[dict[str, Any]], zone: ZoneInfo
) -> list[dict[str, Any]]:
    """Create new resources of types without a calendar (not Slots) with fresh ids, their
    versions and index rows in three statements whatever their number (the audit chainer's
    batches); their rows as stored, in order."""
    now = utcnow()
    rows: list[dict[str, Any]] = []
    index: list[dict[str, Any]] = []
    for body in bodies:
        kind, resource_id = body["resourceType"], new_id()
        if kind == "Slot":
            raise ValueError("slots are written one by one, with their calendar rows")
        stamped = versioned(body, resource_id, 1, now)
        values = {"version_id": 1, "last_updated": now, "deleted": False, "body": stamped}
        rows.append({"resource_type": kind, "id": resource_id, **values})
        found = extract(kind, resource_id, stamped, zone)
        index.extend(index_rows(kind, resource_id, found))
    connection = session.connection()
    for table, written in ((RESOURCES, rows), (VERSIONS, rows), (SEARCH_INDEX, index)):
        if written:
            connection.execute(insert(table), written)
    return rows


def _write_one_by_one(
    session: Session,
    current: Resource | None,
    key: dict[str, str],
    values: dict[str, Any],
    zone: ZoneInfo,
) -> None:
    """SQLite: the row, its version, index and calendar rows, statement after statement."""
    kind, resource_id = key["resource_type"], key["id"]
    if current is None:
        session.connection().execute(insert(RESOURCES), {**key, **values})
    else:
        _replace_version(session, current, values)
    _record_version(session, key, values)
    body, last_updated = values["body"], values["last_updated"]
    _index(session, kind, resource_id, body, zone, last_updated, fresh=current is None)


def _write_at_once(
    connection: Connection,
    current: Resource | None,
    key: dict[str, str],
    values: dict[str, Any],
    zone: ZoneInfo,
) -> None:
    """PostgreSQL: the row, its version, index and calendar rows in one statement."""
    kind, resource_id = key["resource_type"], key["id"]
    found = extract(kind, resource_id, values["body"], zone)
    index = index_rows(kind, resource_id, found)
    calendar = (
        slot_calendar.row(resource_id, found, values["last_updated"]) if kind == "Slot" else None
    )
    expected = None if current is None else current.version_id
    if one_statement_write.write(connection, {**key, **values}, expected, index, calendar) != 1:
        raise VersionConflict(f"{kind}/{resource_id} changed meanwhile")


def _replace_version(session: Session, current: Resource, values: dict) -> None:
    """Write ``values`` over ``current`` only if nobody wrote a newer version meanwhile (the
    caller brings the loaded object up to date)."""
    changed = (
        session.connection()
        .execute(
            update(RESOURCES)
            .where(
                RESOURCES.c.resource_type == current.resource_type,
                RESOURCES.c.id == current.id,
                RESOURCES.c.version_id == current.version_id,
            )
            .values(**values)
        )
        .rowcount
    )
    if changed != 1:
        raise VersionConflict(f"{current.resource_type}/{current.id} changed meanwhile")


def delete(session: Session, resource_type: str, resource_id: str) -> Resource:
    """Mark the resource deleted: it leaves searches, its versions stay for retention."""
    current = read(session, resource_type, resource_id)
    if resource_type == "Slot":
        slot_answers.touched(session, current.body)
    values = {
        "version_id": current.version_id + 1,
        "last_updated": utcnow(),
        "deleted": True,
        "body": current.body,
    }
    _replace_version(session, current, values)
    _record_version(session, {"resource_type": resource_type, "id": resource_id}, values)
    _clear_index(session, resource_type, resource_id)
    for name, value in values.items():
        set_committed_value(current, name, value)
    return current


def _record_version(session: Session, key: dict[str, str], values: dict[str, Any]) -> None:
    """Keep the version just written for good (history and retention)."""
    session.connection().execute(insert(VERSIONS), {**key, **values})


def versioned(body: dict[str, Any], resource_id: str, version: int, now: datetime) -> dict:
    """``body`` as stored: its id, and ``meta`` with this version and time (the client's other
    ``meta`` kept)."""
    meta = {
        k: v for k, v in (body.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")
    }
    meta.update(versionId=str(version), lastUpdated=instant(now))
    return {**body, "id": resource_id, "meta": meta}


def reindex(
    sessions: sessionmaker[Session], zone: ZoneInfo, resource_type: str | None = None
) -> int:
    """Rebuild the search index of every live resource (of ``resource_type``), e.g. after a
    release adds a search parameter; returns how many were indexed.

    Batches of ``REINDEX_BATCH`` resources, each in its own transaction: a resource always has
    either its old rows or its new ones, and an interrupted run can simply be started again.
    Only the rows that differ are written: a rebuild with nothing to fix writes nothing.
    The planner's statistics are refreshed at the end (the index was rewritten wholesale).
    """
    done, after = 0, ("", "")
    while True:
        with sessions.begin() as session:
            columns = ("resource_type", "id", "body", "last_updated")
            query = select(*(RESOURCES.c[name] for name in columns)).where(
                RESOURCES.c.deleted.is_(False),
                tuple_(RESOURCES.c.resource_type, RESOURCES.c.id) > after,
            )
            if resource_type is not None:
                query = query.where(RESOURCES.c.resource_type == resource_type)
            order = (RESOURCES.c.resource_type, RESOURCES.c.id)
            batch = session.connection().execute(query.order_by(*order).limit(REINDEX_BATCH)).all()
            for kind, resource_id, body, last_updated in batch:
                _index(session, kind, resource_id, body, zone, last_updated, fresh=False)
        if not batch:
            statistics.analyze(sessions)
            return done
        done += len(batch)
        after = (batch[-1].resource_type, batch[-1].id)


def _clear_index(session: Session, resource_type: str, resource_id: str) -> None:
    """Remove a resource's index rows (and a slot's calendar row): nothing else does, the index
    has no foreign key to cascade from."""
    connection = session.connection()
    connection.execute(
        sql_delete(SEARCH_INDEX).where(
            SEARCH_INDEX.c.resource_type == resource_type, SEARCH_INDEX.c.resource_id == resource_id
        )
    )
    if resource_type == "Slot":
        slot_calendar.clear(connection, resource_id)


def _index(
    session: Session,
    resource_type: str,
    resource_id: str,
    body: dict[str, Any],
    zone: ZoneInfo,
    last_updated: datetime,
    *,
    fresh: bool,
) -> None:
    """Write the search index rows of a resource (and a slot's calendar row); unless the
    resource is ``fresh`` (just created), only the rows that differ from the stored ones."""
    values = extract(resource_type, resource_id, body, zone)
    rows = index_rows(resource_type, resource_id, values)
    connection = session.connection()
    if fresh:
        insert_rows(connection, SEARCH_INDEX, rows)
    else:
        _rewrite(connection, resource_type, resource_id, rows)
    if resource_type == "Slot":
        if not fresh:
            slot_calendar.clear(connection, resource_id)
        slot_calendar.add(connection, resource_id, values, last_updated)


def _rewrite(
    connection: Connection, resource_type: str, resource_id: str, rows: list[dict[str, Any]]
) -> None:
    """Make a resource's stored index rows ``rows``, deleting the stored rows no longer among
    them and inserting those not stored yet: a booking changes one row of a slot (its
    status), not all of them. Two statements, as a plain delete and insert would be.

    The stored rows are compared, not rows extracted again from the previous version: after a
    release that changes what is extracted, an update (or :func:`reindex`) still leaves exactly
    the new rows.
    """
    params: dict[str, Any] = {"resource_type": resource_type, "resource_id": resource_id}
    for number, row in enumerate(rows):
        params.update({f"{name}_{number}": row[name] for name in INDEX_VALUES})
    for statement in _rewrite_statements(connection.dialect.name, len(rows)):
        connection.execute(statement, params)


@cache
def _rewrite_statements(dialect: str, count: int) -> tuple[TextClause, ...]:
    """The delete and insert of :func:`_rewrite` for ``count`` rows (built once per count)."""
    mine = "resource_type = :resource_type AND resource_id = :resource_id"
    if not count:
        return (text(f"DELETE FROM fhir_search WHERE {mine}"),)
    equal = "IS" if dialect == "sqlite" else "IS NOT DISTINCT FROM"  # nulls equal too
    new = "VALUES " + ", ".join(
        f"({', '.join(f':{name}_{number}' for name in INDEX_VALUES)})" for number in range(count)
    )

    def same(table: str) -> str:
        pairs = enumerate(INDEX_VALUES, start=1)
        return " AND ".join(f"n.column{k} {equal} {table}.{name}" for k, name in pairs)

    delete = (
        f"DELETE FROM fhir_search WHERE {mine}"
        f" AND NOT EXISTS (SELECT 1 FROM ({new}) AS n WHERE {same('fhir_search')})"
    )
    columns = ", ".join(f"n.column{k}" for k in range(1, len(INDEX_VALUES) + 1))
    insert = (
        f"INSERT INTO fhir_search (resource_type, resource_id, {', '.join(INDEX_VALUES)})"
        f" SELECT :resource_type, :resource_id, {columns} FROM ({new}) AS n WHERE NOT EXISTS"
        f" (SELECT 1 FROM fhir_search s WHERE s.{mine.replace(' AND ', ' AND s.')}"
        f" AND {same('s')})"
    )
    types = [bindparam(name, type_=SEARCH_INDEX.c[name].type) for name in _KEYS]
    types += [
        bindparam(f"{name}_{number}", type_=SEARCH_INDEX.c[name].type)
        for number in range(count)
        for name in INDEX_VALUES
    ]
    return tuple(text(sql).bindparams(*types) for sql in (delete, insert))


def index_rows(
    resource_type: str, resource_id: str, values: list[IndexValue]
) -> list[dict[str, Any]]:
    """The rows of the search index table of ``values`` (those of the parameters only the
    slot calendar holds left out, :data:`maillage.store.search_params.CALENDAR_ONLY`)."""
    return [
        {
            "resource_type": resource_type,
            "resource_id": resource_id,
            "param": value.param,
            "system": value.system,
            "value": value.value,
            "low": value.low,
            "high": value.high,
        }
        for value in values
        if (resource_type, value.param) not in CALENDAR_ONLY
    ]
