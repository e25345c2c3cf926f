"""The audit trail's hash chain: intact when untouched, broken by any edit, removal or insert."""

from __future__ import annotations

from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from maillage.config import sqlalchemy_url
from maillage.store import audit
from maillage.store.database import make_engine, session_factory, transaction, upgrade
from maillage.store.models import AuditLink, Resource

ZONE = ZoneInfo("Europe/Paris")


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlalchemy_url(database_url))
    upgrade(engine)
    factory = session_factory(engine)
    with transaction(factory) as session:
        for n in range(5):
            event = {"resourceType": "AuditEvent", "recorded": f"2026-01-0{n + 1}T00:00:00Z"}
            audit.append(session, {**event, "outcome": "0"})
    assert audit.drain(factory, ZONE) == 5
    yield factory
    engine.dispose()


def _report(sessions: sessionmaker[Session]) -> audit.ChainReport:
    with transaction(sessions) as session:
        return audit.verify(session)


def test_untouched_chain_is_intact(sessions: sessionmaker[Session]) -> None:
    report = _report(sessions)
    assert report.intact, report.problems
    assert report.checked == 5


def _lane(session: Session) -> int:
    """The chainer's lane: the fixture's five events were chained there."""
    return session.execute(select(AuditLink.lane).distinct()).scalar_one()


def _third(session: Session) -> str:
    return session.get(AuditLink, (_lane(session), 3)).event_id  # type: ignore[union-attr]


def test_edited_event_is_detected(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        event = session.get(Resource, ("AuditEvent", _third(session)))
        assert event is not None
        session.execute(
            update(Resource)
            .where(Resource.id == event.id)
            .values(body={**event.body, "outcome": "8"})
        )
    with transaction(sessions) as session:
        lane = _lane(session)
    expected = f"link 3 of lane {lane}: AuditEvent/{_id(sessions)} was altered"
    assert _report(sessions).problems == [expected]


def _id(sessions: sessionmaker[Session]) -> str:
    with transaction(sessions) as session:
        return _third(session)


def test_removed_event_is_detected(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        session.execute(delete(Resource).where(Resource.id == _third(session)))
    assert not _report(sessions).intact


def test_removed_link_is_detected(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        lane = _lane(session)
        session.execute(delete(AuditLink).where(AuditLink.seq == 3))
    problems = _report(sessions).problems
    assert f"link 3 of lane {lane} is missing (next is 4)" in problems
    assert any("outside the chain" in p for p in problems)


def test_rehashed_forgery_is_detected_downstream(sessions: sessionmaker[Session]) -> None:
    """Recomputing the edited link's own hash is not enough: the next link no longer follows."""
    with transaction(sessions) as session:
        lane = _lane(session)
        link = session.get(AuditLink, (lane, 3))
        assert link is not None
        event = session.get(Resource, ("AuditEvent", link.event_id))
        assert event is not None
        forged = {**event.body, "outcome": "8"}
        session.execute(update(Resource).where(Resource.id == event.id).values(body=forged))
        link.hash = audit.link_hash(link.prev_hash, forged)
    assert _report(sessions).problems == [f"link 4 of lane {lane} does not follow the previous one"]
