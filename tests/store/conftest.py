"""Store tests: a migrated database on each back-end the test asks for."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from maillage.config import sqlalchemy_url
from maillage.store.database import make_engine, session_factory, upgrade


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlalchemy_url(database_url))
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()
