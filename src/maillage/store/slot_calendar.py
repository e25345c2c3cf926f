"""The slot calendar: each live Slot's schedule, status and start in one indexed row.

A booking client asks for "the free slots of this schedule from that day on", the busiest
search of the network. The search index answers it with one probe per slot and parameter;
the calendar answers it with one range scan of ``ix_slot_calendar_search`` and reads the
bodies of the page's slots only. The store writes a slot's row with its search index (same
extracted values), so the two always agree; searches the calendar cannot answer (other
parameters, modifiers, systems) take the general path, which reads a slot's status here too
(the calendar alone holds it, :data:`maillage.store.search_params.CALENDAR_ONLY`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

from psycopg.rows import namedtuple_row
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Label,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
)

from maillage.store.models import RECORDED_BY, RESOURCES, SLOT_CALENDAR
from maillage.store.psycopg_sql import compiled
from maillage.store.search import Columns, Criterion, Test, sql_of, tests
from maillage.store.search_params import IndexValue

if TYPE_CHECKING:
    from psycopg import AsyncCursor
    from psycopg_pool import AsyncConnectionPool

COLUMNS = {
    "schedule": Columns(value=SLOT_CALENDAR.c.schedule),
    "status": Columns(value=SLOT_CALENDAR.c.status),
    "start": Columns(low=SLOT_CALENDAR.c.start_low, high=SLOT_CALENDAR.c.start_high),
}
SORTS = (None, "start", "-start")


def answers(criteria: Sequence[Criterion], ids: Sequence[str], sort: str | None) -> bool:
    """Whether a Slot search is one the calendar can run: only schedule, status and start,
    no modifier, status codes without a system, sorted by lastUpdated or start."""
    return (
        not ids
        and sort in SORTS
        and all(
            c.spec.name in COLUMNS
            and not c.modifier
            and (c.spec.name != "status" or not any("|" in v for v in c.values))
            for c in criteria
        )
    )


def schedule_of(criteria: Sequence[Criterion]) -> str | None:
    """The one schedule a search names (``schedule=Schedule/x``), under which its answers are
    kept; None when it names none or several."""
    named = [c for c in criteria if c.spec.name == "schedule"]
    if len(named) != 1 or len(named[0].values) != 1:
        return None
    form, bound = tests(named[0], ZoneInfo("UTC"))[0]
    return str(bound["value"]) if form == "equal" else None


def add(
    connection: Connection, slot_id: str, values: list[IndexValue], last_updated: datetime
) -> None:
    """Write the row of a slot from its extracted search values (after :func:`clear`)."""
    connection.execute(insert(SLOT_CALENDAR), row(slot_id, values, last_updated))


def row(slot_id: str, values: list[IndexValue], last_updated: datetime) -> dict[str, Any]:
    """The calendar row of a slot (FHIR gives a Slot one schedule, status and start)."""
    found = {v.param: v for v in values if v.param in COLUMNS}
    schedule, status, start = (found.get(name) for name in ("schedule", "status", "start"))
    return {
        "id": slot_id,
        "schedule": schedule.value if schedule else None,
        "status": status.value if status else None,
        "start_low": start.low if start else None,
        "start_high": start.high if start else None,
        "last_updated": last_updated,
    }


def clear(connection: Connection, slot_id: str) -> None:
    """Drop a slot's row (deleted, or about to be written anew)."""
    connection.execute(delete(SLOT_CALENDAR).where(SLOT_CALENDAR.c.id == slot_id))


class Found(NamedTuple):
    """A page of slots, their total (None: not counted) and whether a next page exists."""

    rows: list[Any]
    total: int | None
    more: bool


def page(
    connection: Connection,
    criteria: Sequence[Criterion],
    zone: ZoneInfo,
    sort: str | None,
    count: int,
    offset: int,
    counted: bool = True,
) -> Found:
    """One page of matching slots, in the order :func:`maillage.store.search.order` gives.

    The page (and the total when ``counted``) comes from the calendar alone; only the page's
    slots are read from the resource table. Uncounted, one row more than the page is read to
    tell whether a next page exists: no count of every match, which cost 40 % of the search.
    The statement is built once per shape of search (which parameters, which tests) and then
    only bound to the values: building SQLAlchemy expressions anew cost more CPU than the
    whole query.
    """
    shape, values = _bound(criteria, zone)
    paging = {"count": count + (not counted), "offset": offset}
    rows = connection.execute(_page(shape, sort, counted, pasted=False), values | paging).all()
    if not counted or rows or not (count == 0 or offset > 0):
        return _found(list(rows), count, offset, counted)
    return _found([], count, offset, True, connection.execute(_count(shape), values).scalar_one())


async def page_async(
    pool: AsyncConnectionPool,
    criteria: Sequence[Criterion],
    zone: ZoneInfo,
    sort: str | None,
    count: int,
    offset: int,
    counted: bool = False,
) -> Found:
    """:func:`page` on PostgreSQL through psycopg's asynchronous pool, for the event loop.

    The same statements, compiled once to psycopg's SQL: the search then costs no worker
    thread and no SQLAlchemy execution, which measured twice the searches per second. Each
    row holds the slot's type, id and ``outgoing``: its body as it leaves the server
    (:func:`maillage.care.policy.unstamped`, the only change a Slot undergoes), as JSON text
    made by PostgreSQL, for the door to paste into the Bundle unparsed.
    """
    shape, values = _bound(criteria, zone)
    paging = {"count": count + (not counted), "offset": offset}
    async with pool.connection() as connection:
        # Named tuples whose fields the statement decides: typed Any, as the SQLAlchemy rows.
        cursor: AsyncCursor[Any] = connection.cursor(row_factory=namedtuple_row)
        sql, constants = compiled(_page(shape, sort, counted, pasted=True))
        await cursor.execute(sql, constants | values | paging)
        rows = await cursor.fetchall()
        if not counted or rows or not (count == 0 or offset > 0):
            return _found(rows, count, offset, counted)
        sql, constants = compiled(_count(shape))
        await cursor.execute(sql, constants | values)
        total = await cursor.fetchone()
        return _found([], count, offset, True, total[0] if total else 0)


def _found(
    rows: list[Any], count: int, offset: int, counted: bool, total: int | None = None
) -> Found:
    """The page read, its total and whether more follow (``total``: counted apart, for an
    empty page that asks for nothing or starts past the end)."""
    if not counted:
        return Found(rows[:count], None, len(rows) > count)
    if total is None:
        total = rows[0].total if rows else 0
    return Found(rows, total, offset + count < total)


def _bound(criteria: Sequence[Criterion], zone: ZoneInfo) -> tuple[Shape, dict[str, Any]]:
    """The shape of a search and the values of its bind parameters."""
    checked = [(c.spec.name, [_floored(c.spec.name, t) for t in tests(c, zone)]) for c in criteria]
    shape = tuple((name, tuple(form for form, _ in found)) for name, found in checked)
    values = {
        f"{i}_{j}_{key}": value
        for i, (_, found) in enumerate(checked)
        for j, (_, bound) in enumerate(found)
        for key, value in bound.items()
    }
    return shape, values


_FLOORS = {"ge": "low", "gt": "high"}
_INSTANT = timedelta(seconds=1)
"""A Slot's start is an instant (validated so): its indexed range spans under a second. A slot
whose range ends after ``x`` therefore starts after ``x - 1 s``: the floor of ``ge``/``gt``."""


def _floored(name: str, test: Test) -> Test:
    form, bound = test
    if name == "start" and form in _FLOORS:
        return form, {**bound, "floor": bound[_FLOORS[form]] - _INSTANT}
    return test


Shape = tuple[tuple[str, tuple[str, ...]], ...]


def _where(shape: Shape) -> list[ColumnElement[bool]]:
    """The conditions of a search shape, on bind parameters named as :func:`page` binds them."""
    return [
        or_(*(_test(name, form, _Binds(f"{i}_{j}_")) for j, form in enumerate(forms)))
        for i, (name, forms) in enumerate(shape)
    ]


def _test(name: str, form: str, binds: dict[str, Any]) -> ColumnElement[bool]:
    """One test; ``start=ge``/``gt`` also bound ``start_low`` from below, implied by the test,
    so that the index range starts there instead of at the schedule's first slot."""
    found = sql_of(form, COLUMNS[name], binds)
    if name == "start" and form in _FLOORS:
        return and_(found, SLOT_CALENDAR.c.start_low > binds["floor"])
    return found


class _Binds(dict[str, Any]):
    """Bind parameters named by a prefix and the test's value name, made when first asked."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def __missing__(self, key: str) -> BindParameter[Any]:
        return bindparam(self.prefix + key)


@lru_cache(maxsize=256)
def _page(shape: Shape, sort: str | None, counted: bool, pasted: bool) -> Select[Any]:
    """The page's statement: the calendar's matches in index order, joined to their bodies
    (or, ``pasted``, to their outgoing JSON text), with the window count when ``counted``."""
    calendar = SLOT_CALENDAR.c
    found = select(calendar.id, calendar.start_low)
    if counted:
        found = found.add_columns(func.count().over().label("total"))
    hits = (
        found.where(*_where(shape))
        .order_by(*_order(calendar, sort))
        .limit(bindparam("count"))
        .offset(bindparam("offset"))
        .subquery()
    )
    columns: list[Any] = (
        [RESOURCES.c.resource_type, RESOURCES.c.id, _OUTGOING] if pasted else [RESOURCES]
    )
    return (
        select(*columns, *([hits.c.total] if counted else []))
        .join(hits, and_(RESOURCES.c.resource_type == "Slot", RESOURCES.c.id == hits.c.id))
        .order_by(*_order(hits.c, sort))
    )


_OUTGOING: Label[str] = literal_column(
    f"""(CASE WHEN fhir_resource.body->'meta'->'tag' @> '[{{"system": "{RECORDED_BY}"}}]'
    THEN (SELECT CASE WHEN kept IS NULL THEN fhir_resource.body #- '{{meta,tag}}'
                 ELSE jsonb_set(fhir_resource.body, '{{meta,tag}}', kept) END
          FROM (SELECT jsonb_agg(tag ORDER BY n) AS kept
                FROM jsonb_array_elements(fhir_resource.body->'meta'->'tag')
                  WITH ORDINALITY AS tags(tag, n)
                WHERE tag->>'system' IS DISTINCT FROM '{RECORDED_BY}') other_tags)
    ELSE fhir_resource.body END)::text"""
).label("outgoing")
"""A slot's body less the server's recorder tag (:func:`maillage.care.policy.unstamped`, in
SQL), as JSON text."""


@lru_cache(maxsize=256)
def _count(shape: Shape) -> Select[Any]:
    return select(func.count()).select_from(SLOT_CALENDAR).where(*_where(shape))


def _order(columns: Any, sort: str | None) -> list[Any]:
    """ORDER BY on the calendar or on the page's sub-query: the start (slots come by start
    without ``_sort``), then the id, both in the direction of the index or both against it."""
    if sort is not None and sort.startswith("-"):
        return [columns.start_low.desc(), columns.id.desc()]
    return [columns.start_low, columns.id]
