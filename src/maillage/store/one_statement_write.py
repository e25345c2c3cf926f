"""A resource version's whole write as one PostgreSQL statement (data-modifying CTEs).

A save writes the current row, the version kept for history, the search index rows and, for a
slot, its calendar row. Sent one by one these are four to six round trips and as many
SQLAlchemy executions: about half a booking's server CPU. PostgreSQL takes them as one
statement whose parts all depend on the current row's write: an update is still a
compare-and-set on the version, and when it matches nothing, nothing else is written. An update
deletes only the stored index rows that the new version no longer has and inserts only those
not stored yet: a booking turns a slot's ``status`` row from free to busy and leaves its other
rows alone. SQLite has no data-modifying CTEs and keeps the statements one by one
(resources.py).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from maillage.store.models import (
    RESOURCES,
    SEARCH_INDEX,
    SLOT_CALENDAR,
)

_ROW = ("resource_type", "id", "version_id", "last_updated", "deleted", "body")
_INDEX_VALUES = ("param", "system", "value", "low", "high")
_INDEX_COLUMNS = ("resource_type", "resource_id", *_INDEX_VALUES)
#: An old index row (s) equal to a new one (n), nulls equal too.
_SAME = " AND ".join(f"n.{name} IS NOT DISTINCT FROM s.{name}" for name in _INDEX_VALUES)
_CALENDAR_COLUMNS = tuple(column.name for column in SLOT_CALENDAR.columns)


def write(
    connection: Connection,
    values: dict[str, Any],
    expected: int | None,
    index: list[dict[str, Any]],
    calendar: dict[str, Any] | None,
) -> int:
    """Write a version of a resource with its index rows (and calendar row); ``values`` holds
    the row's columns, ``expected`` the version an update replaces (None: a create). Returns
    the rows written to the resource table: 0 when another writer changed it meanwhile."""
    params = dict(values)
    if expected is not None:
        params["expected"] = expected
    for name in _INDEX_VALUES:
        params[f"index_{name}"] = [row[name] for row in index]
    if calendar is not None:
        params.update({f"calendar_{name}": calendar[name] for name in _CALENDAR_COLUMNS})
    statement = _statement(expected is not None, calendar is not None)
    return int(connection.execute(statement, params).scalar_one())


@cache
def _statement(update: bool, slot: bool) -> TextClause:
    """The statement of a create or an update, of a slot or not (built once each)."""
    returning = f"RETURNING {', '.join(_ROW)}"
    if update:
        current = (
            "UPDATE fhir_resource SET version_id = :version_id, last_updated = :last_updated,"
            " deleted = :deleted, body = :body WHERE resource_type = :resource_type AND"
            f" id = :id AND version_id = :expected {returning}"
        )
    else:
        current = (
            f"INSERT INTO fhir_resource ({', '.join(_ROW)})"
            f" VALUES ({', '.join(':' + name for name in _ROW)}) {returning}"
        )
    parts = [
        f"written AS ({current})",
        f"version AS (INSERT INTO fhir_resource_version ({', '.join(_ROW)}) SELECT * FROM written)",
        f"new_row AS (SELECT * FROM unnest({', '.join(':index_' + n for n in _INDEX_VALUES)}) AS"
        f" n({', '.join(_INDEX_VALUES)}))",
    ]
    inserted = (
        f"INSERT INTO fhir_search ({', '.join(_INDEX_COLUMNS)}) SELECT :resource_type, :id,"
        f" {', '.join('n.' + name for name in _INDEX_VALUES)} FROM new_row n"
        " WHERE EXISTS (SELECT FROM written)"
    )
    if update:  # both parts see the table as it was before this statement: the old rows
        parts.append(
            "cleared AS (DELETE FROM fhir_search s WHERE s.resource_type = :resource_type"
            " AND s.resource_id = :id AND EXISTS (SELECT FROM written)"
            f" AND NOT EXISTS (SELECT FROM new_row n WHERE {_SAME}))"
        )
        inserted += (
            " AND NOT EXISTS (SELECT FROM fhir_search s WHERE s.resource_type = :resource_type"
            f" AND s.resource_id = :id AND {_SAME})"
        )
    parts.append(f"indexed AS ({inserted})")
    if slot:
        others = ", ".join(f"{n} = EXCLUDED.{n}" for n in _CALENDAR_COLUMNS if n != "id")
        parts.append(
            f"calendar AS (INSERT INTO slot_calendar ({', '.join(_CALENDAR_COLUMNS)})"
            f" SELECT {', '.join(':calendar_' + name for name in _CALENDAR_COLUMNS)}"
            f" WHERE EXISTS (SELECT FROM written) ON CONFLICT (id) DO UPDATE SET {others})"
        )
    statement = text(f"WITH {', '.join(parts)} SELECT count(*) FROM written")
    types = [bindparam(name, type_=RESOURCES.c[name].type) for name in _ROW]
    types += [
        bindparam(f"index_{name}", type_=postgresql.ARRAY(SEARCH_INDEX.c[name].type))
        for name in _INDEX_VALUES
    ]
    if update:
        types.append(bindparam("expected", type_=RESOURCES.c.version_id.type))
    if slot:
        types += [
            bindparam(f"calendar_{name}", type_=SLOT_CALENDAR.c[name].type)
            for name in _CALENDAR_COLUMNS
        ]
    return statement.bindparams(*types)
