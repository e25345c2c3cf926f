"""The slot calendar answers a Slot search exactly as the search index does: same slots, same
order, same total, whatever the mix of schedules, statuses, starts, updates and deletions."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import event, insert, select

from maillage.care import policy
from maillage.config import sqlalchemy_url
from maillage.server import READS
from maillage.store import resources, search, slot_calendar
from maillage.store.database import (
    autocommit,
    make_engine,
    session_factory,
    transaction,
    upgrade,
)
from maillage.store.models import Resource, SearchEntry, SlotCalendar
from maillage.store.search_params import extract

ZONE = ZoneInfo("Europe/Paris")
SCHEDULES = ("Schedule/a", "Schedule/b", "Schedule/c")
STATUSES = ("free", "busy", "busy-tentative")
FIRST = datetime(2027, 3, 26, 8, 0)  # the switch to summer time falls on the 28th
STAMP = {"system": policy.RECORDED_BY, "code": "7"}


def _slot(n: int) -> dict:
    """Slot ``n``: spread over schedules, statuses and six days around a clock change."""
    start = FIRST + timedelta(hours=5 * n + n % 3)
    offset = "+01:00" if start < datetime(2027, 3, 28, 2) else "+02:00"
    return {
        "resourceType": "Slot",
        "schedule": {"reference": SCHEDULES[n % 3]},
        "status": STATUSES[n % 2],
        "start": f"{start:%Y-%m-%dT%H:%M:%S}{offset}",
        "end": f"{start + timedelta(minutes=20):%Y-%m-%dT%H:%M:%S}{offset}",
    }


def _stored(database_url: str):
    """A database with 30 slots written through the store: some then updated, some deleted."""
    engine = make_engine(sqlalchemy_url(database_url))
    upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        for n in range(30):
            resources.save(session, _slot(n), ZONE, resource_id=f"s{n:02d}")
    with transaction(sessions) as session:
        for n in range(0, 30, 4):
            body = {**resources.read(session, "Slot", f"s{n:02d}").body, "status": "busy-tentative"}
            resources.save(session, body, ZONE, resource_id=f"s{n:02d}")
        for n in (5, 17):
            resources.delete(session, "Slot", f"s{n:02d}")
    return engine


DAYS = st.integers(0, 6).map(lambda d: FIRST.date() + timedelta(days=d))
DATES = st.one_of(
    DAYS.map(lambda d: d.isoformat()),
    st.builds(lambda d, h: f"{d.isoformat()}T{h:02d}:00:00+01:00", DAYS, st.integers(0, 23)),
)
CRITERIA = st.fixed_dictionaries(
    {},
    optional={
        "schedule": st.lists(
            st.sampled_from([*SCHEDULES, "a", "Schedule/zz"]), min_size=1, max_size=2
        ).map(",".join),
        "status": st.lists(
            st.sampled_from([*STATUSES, "entered-in-error"]), min_size=1, max_size=2
        ).map(",".join),
        "start": st.builds(
            lambda prefix, date: prefix + date, st.sampled_from(["", *search.DATE_PREFIXES]), DATES
        ),
    },
)


def test_the_calendar_finds_what_the_index_finds(database_url: str) -> None:
    engine = _stored(database_url)
    with autocommit(engine) as connection:  # by hand: a holds slots 0, 3, … 27
        found = slot_calendar.page(
            connection, search.parse("Slot", [("schedule", "a")])[0], ZONE, "start", 4, 1
        )
        assert ([row.id for row in found[0]], found[1]) == (["s03", "s06", "s09", "s12"], 10)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        criteria=CRITERIA,
        also_start=st.none() | DATES.map(lambda d: "lt" + d),
        sort=st.sampled_from(slot_calendar.SORTS),
        count=st.integers(0, 12),
        offset=st.integers(0, 30),
    )
    def agree(criteria, also_start, sort, count, offset) -> None:
        query = list(criteria.items()) + ([("start", also_start)] if also_start else [])
        parsed, ids = search.parse("Slot", query)
        assert slot_calendar.answers(parsed, ids, sort)
        with autocommit(engine) as connection:
            fast = slot_calendar.page(connection, parsed, ZONE, sort, count, offset)
            statement = search.statement("Slot", parsed, ids, ZONE)
            ordering = search.order("Slot", sort)
            slow = search.page(connection, statement, ordering, count, offset)
        assert [row.id for row in fast[0]] == [row.id for row in slow[0]]
        assert [row.body for row in fast[0]] == [row.body for row in slow[0]]
        assert fast[1] == slow[1]

    agree()
    engine.dispose()


@pytest.mark.postgres
def test_the_event_loop_reads_the_same_pages(postgres_url: str) -> None:
    """Counted or not, the event loop's pages are the thread's; their outgoing JSON text is
    the stored body less the recorder tag, as :func:`policy.unstamped` makes it."""
    engine = _stored(postgres_url)
    with transaction(session_factory(engine)) as session:  # tags: the recorder's and others'
        mine = {"system": "urn:example:mine", "code": "x"}
        for n, tags in ((1, [STAMP]), (4, [mine, STAMP, "odd"]), (7, [mine])):
            body = resources.read(session, "Slot", f"s{n:02d}").body
            resources.save(session, {**body, "meta": {"tag": tags}}, ZONE, resource_id=f"s{n:02d}")
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    queries = [
        ([("schedule", "a"), ("status", "busy-tentative,free")], None, 3, 0),
        ([("start", "ge2027-03-28"), ("start", "lt2027-03-30T12:00:00+02:00")], "-start", 5, 2),
        ([("schedule", "Schedule/b")], "start", 0, 0),  # the total alone
        ([("schedule", "Schedule/zz")], None, 10, 0),  # nothing
        ([("status", "free")], "start", 10, 40),  # past the end: the total alone
        ([("start", "ge2027-03-26")], None, 30, 0),  # all, the tagged ones among them
    ]

    async def read_all(counted: bool) -> list[slot_calendar.Found]:
        async with AsyncConnectionPool(url, kwargs=READS, open=False) as pool:
            return [
                await slot_calendar.page_async(
                    pool, search.parse("Slot", q)[0], ZONE, *rest, counted=counted
                )
                for q, *rest in queries
            ]

    found, uncounted = asyncio.run(read_all(True)), asyncio.run(read_all(False))
    with autocommit(engine) as connection:
        for (query, *rest), counted, fast in zip(queries, found, uncounted, strict=True):
            expected = slot_calendar.page(connection, search.parse("Slot", query)[0], ZONE, *rest)
            ids = [r.id for r in expected.rows]
            assert ([r.id for r in counted.rows], counted.total) == (ids, expected.total)
            assert ([r.id for r in fast.rows], fast.total, fast.more) == (ids, None, expected.more)
            outgoing = [json.loads(r.outgoing) for r in fast.rows]
            assert outgoing == [policy.unstamped(r.body) for r in expected.rows]
    assert [len(f.rows) for f in found] == [3, 5, 0, 0, 0, 28]
    assert found[2].total == 10 and found[3].total == 0 and found[4].total == 7
    tagged = {r.id: json.loads(r.outgoing)["meta"].get("tag") for r in uncounted[-1].rows}
    assert (tagged["s01"], tagged["s04"], tagged["s07"]) == (None, [mine, "odd"], [mine])
    engine.dispose()


def test_searches_the_calendar_cannot_answer_are_left_to_the_index() -> None:
    def answers(query: list[tuple[str, str]], sort: str | None = None) -> bool:
        return slot_calendar.answers(*search.parse("Slot", query), sort)

    assert answers([("schedule", "Schedule/a"), ("status", "free"), ("start", "ge2027-03-26")])
    assert not answers([("status", "http://hl7.org/fhir/slotstatus|free")])
    assert not answers([("status:not", "busy")])
    assert not answers([("service-type", "57")])
    assert not answers([("_id", "s01")])
    assert not answers([("schedule", "Schedule/a")], sort="-_lastUpdated")


def test_the_migration_fills_the_calendar_from_the_stored_slots(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'calendar.sqlite'}")
    upgrade(engine, "0005_audit_lanes")
    now = datetime(2026, 11, 23, 12, 0)
    bodies = {f"s{n}": {**_slot(n), "id": f"s{n}"} for n in range(4)}
    with engine.begin() as connection:
        for sid, body in bodies.items():
            key = {"resource_type": "Slot", "id": sid, "version_id": 1, "last_updated": now}
            connection.execute(insert(Resource), {**key, "deleted": sid == "s3", "body": body})
            index = [vars(v) for v in extract("Slot", sid, body, ZONE)]
            connection.execute(
                insert(SearchEntry),
                [{"resource_type": "Slot", "resource_id": sid, **v} for v in index],
            )
    upgrade(engine)
    with engine.connect() as connection:
        rows = {row.id: dict(row._mapping) for row in connection.execute(select(SlotCalendar))}
    expected = {
        sid: slot_calendar.row(sid, extract("Slot", sid, body, ZONE), now)
        for sid, body in bodies.items()
        if sid != "s3"  # deleted: not searchable
    }
    assert rows == expected
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize(("sort", "counted"), [(None, False), ("-start", False), ("start", True)])
@pytest.mark.parametrize(
    ("schedule", "index"),
    [([("schedule", "Schedule/7")], "ix_slot_calendar_search"), ([], "ix_slot_calendar_status")],
)
def test_a_booking_search_reads_the_index_in_order(
    database_url: str,
    sort: str | None,
    counted: bool,
    schedule: list[tuple[str, str]],
    index: str,
) -> None:
    """ "A schedule's free slots from that day on", or the whole network's, is one range of a
    calendar's index, read in its order: the plan has no Sort node, and the day bounds the
    range (``start_low`` in the index condition), instead of every slot (of the schedule) being
    read and filtered."""
    engine = make_engine(sqlalchemy_url(database_url))
    upgrade(engine)
    now = datetime(2027, 1, 1)
    calendar, bodies = [], []
    for n in range(4000):
        start = FIRST + timedelta(minutes=20 * (n // 40))
        body = {**_slot(n), "schedule": {"reference": f"Schedule/{n % 40}"}, "status": "free"}
        values = extract("Slot", f"s{n}", body, ZONE)
        calendar.append(slot_calendar.row(f"s{n}", values, now) | {"start_low": start})
        key = {"resource_type": "Slot", "id": f"s{n}", "version_id": 1, "last_updated": now}
        bodies.append({**key, "deleted": False, "body": body})
    with engine.begin() as connection:
        connection.execute(insert(Resource), bodies)
        connection.execute(insert(SlotCalendar), calendar)
    with autocommit(engine) as connection:
        connection.exec_driver_sql("ANALYZE slot_calendar, fhir_resource")
    query = [*schedule, ("status", "free"), ("start", "ge2027-03-27")]
    sent: list[tuple[str, object]] = []

    def keep(_c: object, _cursor: object, statement: str, parameters: object, *_: object) -> None:
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    with autocommit(engine) as connection:
        found = slot_calendar.page(
            connection, search.parse("Slot", query)[0], ZONE, sort, 10, 0, counted
        )
    event.remove(engine, "before_cursor_execute", keep)
    assert len(found.rows) == 10 and found.more
    ((statement, parameters),) = sent
    with autocommit(engine) as connection:  # as planned for real: no planner setting forced
        plan = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
        plan = plan.scalar_one()
    nodes, pending = [], [plan[0]["Plan"]]
    while pending:
        nodes.append(pending.pop())
        pending += nodes[-1].get("Plans", [])
    assert not [n["Node Type"] for n in nodes if "Sort" in n["Node Type"]], plan
    scans = [n for n in nodes if n.get("Index Name") == index]
    assert len(scans) == 1 and "start_low >" in scans[0]["Index Cond"], plan
    engine.dispose()
