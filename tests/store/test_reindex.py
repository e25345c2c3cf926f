"""Rebuilding the search index: every live resource gets exactly the rows a write would give it."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
import typer
from sqlalchemy import delete, select
from typer.testing import CliRunner

from maillage.admin.server_commands import register
from maillage.config import sqlalchemy_url
from maillage.store import resources
from maillage.store.database import make_engine, session_factory, transaction, upgrade
from maillage.store.models import SearchEntry

ZONE = ZoneInfo("Europe/Paris")
INSEE = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code"


def _site(sid: str, code: str) -> dict:
    extension = [{"url": INSEE, "valueCoding": {"code": code}}]
    return {"resourceType": "Location", "id": sid, "address": {"extension": extension}}


def _rows(sessions) -> set[tuple]:
    columns = (SearchEntry.resource_type, SearchEntry.resource_id, SearchEntry.param)
    with transaction(sessions) as session:
        found = session.execute(select(*columns, SearchEntry.value)).all()
    return {tuple(row) for row in found}


def test_reindex_rebuilds_lost_rows_in_batches(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(sqlalchemy_url(database_url))
    upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        for n in range(5):
            resources.save(session, _site(f"s{n}", f"5554{n}"), ZONE, resource_id=f"s{n}")
        resources.save(session, {"resourceType": "Organization", "name": "MSP"}, ZONE)
        resources.delete(session, "Location", "s4")
    written = _rows(sessions)
    assert ("Location", "s1", "address-insee", "55541") in written
    with transaction(sessions) as session:  # as if these parameters did not exist then
        session.execute(delete(SearchEntry))
    monkeypatch.setattr(resources, "REINDEX_BATCH", 2)
    assert resources.reindex(sessions, ZONE, "Location") == 4  # s4 is deleted: not searchable
    assert {row[0] for row in _rows(sessions)} == {"Location"}
    assert resources.reindex(sessions, ZONE) == 5
    assert _rows(sessions) == written
    engine.dispose()


def test_db_reindex_command(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'reindex.sqlite'}"
    monkeypatch.setenv("MAILLAGE_DATABASE_URL", url)
    engine = make_engine(url)
    upgrade(engine)
    with transaction(session_factory(engine)) as session:
        resources.save(session, _site("s1", "55545"), ZONE, resource_id="s1")
    engine.dispose()
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["db", "reindex", "--type", "Location"])
    assert result.exit_code == 0, result.output
    assert "1 resources indexed" in result.output
