"""The audit outbox: a request queues its AuditEvent as one row in its own transaction; the
chainer stores and chains queued rows later, skipping none, chaining none twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from maillage.config import sqlalchemy_url
from maillage.store import audit
from maillage.store.database import make_engine, session_factory, transaction, upgrade
from maillage.store.models import AUDIT_OUTBOX, AuditLink, Base, Resource, utcnow

ZONE = ZoneInfo("Europe/Paris")
TABLES = ", ".join(table.name for table in Base.metadata.sorted_tables)


def _event(n: int) -> dict:
    return {"resourceType": "AuditEvent", "recorded": "2026-01-01T00:00:00Z", "outcome": str(n)}


def _counts(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    """Queued rows, stored AuditEvents and chain links."""
    with transaction(sessions) as session:
        queued = session.execute(select(func.count()).select_from(AUDIT_OUTBOX)).scalar_one()
        stored = session.execute(
            select(func.count()).where(Resource.resource_type == "AuditEvent")
        ).scalar_one()
        links = session.execute(select(func.count()).select_from(AuditLink)).scalar_one()
    return queued, stored, links


def _chained_outcomes(sessions: sessionmaker[Session]) -> list[str]:
    """The chained events' outcomes, in chain order."""
    with transaction(sessions) as session:
        rows = session.execute(
            select(Resource.body)
            .join(AuditLink, AuditLink.event_id == Resource.id)
            .where(Resource.resource_type == "AuditEvent")
            .order_by(AuditLink.lane, AuditLink.seq)
        ).scalars()
        return [body["outcome"] for body in rows]


def _verified(sessions: sessionmaker[Session]) -> audit.ChainReport:
    with transaction(sessions) as session:
        report = audit.verify(session)
        assert audit.verify_copies(session, ZONE) == []
    assert report.intact, report.problems
    return report


def test_a_request_queues_one_row_and_the_chainer_stores_and_chains_it(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        audit.append(session, _event(1))
        audit.append(session, _event(2))
    assert _counts(sessions) == (2, 0, 0)
    with pytest.raises(RuntimeError), transaction(sessions) as session:
        audit.append(session, _event(3))
        raise RuntimeError("the request failed: its transaction, event included, rolls back")
    with transaction(sessions) as session:
        waiting = audit.backlog(session, utcnow() + timedelta(seconds=60))
    assert waiting.pending == 2
    assert waiting.lag_seconds >= 60
    assert audit.drain(sessions, ZONE) == 2
    assert _counts(sessions) == (0, 2, 2)
    assert _chained_outcomes(sessions) == ["1", "2"]
    assert _verified(sessions).checked == 2
    assert audit.drain(sessions, ZONE) == 0  # chained once: nothing left to chain again
    with transaction(sessions) as session:
        assert audit.backlog(session) == audit.Backlog(0, 0.0)


def test_the_chainer_works_in_batches_and_continues_its_lane(
    sessions: sessionmaker[Session],
) -> None:
    for n in range(7):
        with transaction(sessions) as session:
            audit.append(session, _event(n))
    with transaction(sessions) as session:
        assert audit.chain(session, ZONE, limit=3) == 3
    assert _counts(sessions) == (4, 3, 3)
    with transaction(sessions) as session:
        assert audit.chain(session, ZONE, limit=3) == 3
        assert audit.chain(session, ZONE, limit=3) == 1
    assert _chained_outcomes(sessions) == [str(n) for n in range(7)]
    assert _verified(sessions).checked == 7


def test_a_tampered_chained_link_is_detected(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        for n in range(3):
            audit.append(session, _event(n))
    audit.drain(sessions, ZONE)
    with transaction(sessions) as session:
        link = session.get(AuditLink, (audit.CHAINER_LANE, 2))
        assert link is not None
        link.hash = "f" * 64
    with transaction(sessions) as session:
        problems = audit.verify(session).problems
    assert problems == [
        f"link 2 of lane {audit.CHAINER_LANE}: AuditEvent/{link.event_id} was altered",
        f"link 3 of lane {audit.CHAINER_LANE} does not follow the previous one",
    ]


@pytest.mark.postgres
def test_a_row_committed_after_a_later_one_is_not_skipped(postgres_url: str) -> None:
    """Two requests: the first queues its row (lower sequence id), the second queues and
    commits first. The worker takes neither while the first runs (rows of finished
    transactions only), then both, in sequence order; a reader's drain meanwhile takes the
    committed one, and the other once committed: none is skipped either way."""
    engine = make_engine(sqlalchemy_url(postgres_url))
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    sessions = session_factory(engine)
    for settled in (True, False):
        with transaction(sessions) as first:
            audit.append(first, _event(1))
            with transaction(sessions) as second:
                audit.append(second, _event(2))
            assert _counts(sessions)[0] == 1  # the second is committed, the first is not
            chained = audit.drain(sessions, ZONE, settled=settled)
            assert chained == (0 if settled else 1)
        assert _drained(sessions, settled) == (2 if settled else 1)
    assert _chained_outcomes(sessions) == ["1", "2", "2", "1"]
    assert _verified(sessions).checked == 4
    engine.dispose()


def _drained(sessions: sessionmaker[Session], settled: bool) -> int:
    """Drain until the outbox is empty: settled rows wait for every older transaction of the
    server (other databases' included), which other test runs may hold for a moment."""
    chained, deadline = 0, time.monotonic() + 30
    while _counts(sessions)[0] and time.monotonic() < deadline:
        chained += audit.drain(sessions, ZONE, settled=settled)
        time.sleep(0.05)
    return chained


_KILLED_CHAINER = """
import sys, time
from zoneinfo import ZoneInfo
from maillage.store import audit
from maillage.store.database import make_engine, session_factory
with session_factory(make_engine(sys.argv[1])).begin() as session:
    audit.chain(session, ZoneInfo("Europe/Paris"))
    print("chained, not committed", flush=True)
    time.sleep(60)
"""


def test_a_chainer_killed_midway_loses_nothing(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        for n in range(4):
            audit.append(session, _event(n))
    url = sessions.kw["bind"].url.render_as_string(hide_password=False)
    environment = {**os.environ, "PYTHONPATH": str(Path(audit.__file__).parents[2])}
    chainer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_CHAINER, url],
        stdout=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        assert chainer.stdout is not None
        assert chainer.stdout.readline().strip() == "chained, not committed"
    finally:
        chainer.send_signal(signal.SIGKILL)
        chainer.wait(timeout=30)
    deadline = time.monotonic() + 30
    while True:  # the killed session's locks go when the server sees it gone
        try:
            assert _counts(sessions) == (4, 0, 0)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert audit.drain(sessions, ZONE) == 4
    assert _counts(sessions) == (0, 4, 4)
    assert _verified(sessions).checked == 4
