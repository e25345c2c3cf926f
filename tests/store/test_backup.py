"""`maillage db backup|restore`: a restored demo network keeps every resource and its audit
trail verifies; neither command overwrites a file or fills a database that holds data."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from tests.store.test_lean_index import ORPHANS
from typer.testing import CliRunner

from maillage.admin import server_commands
from maillage.config import Settings
from maillage.demo.seed import seed
from maillage.store.database import make_engine, session_factory, upgrade
from maillage.store.models import Resource, SearchEntry


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    server_commands.register(app)
    return app


def _run(url: str, *arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(_cli(), list(arguments), env={"MAILLAGE_DATABASE_URL": url})
    return result.exit_code, result.output


@pytest.fixture
def empty_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database of the same back-end, to restore into."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.sqlite'}"
        return
    server = create_engine(database_url, isolation_level="AUTOCOMMIT")
    name = f"maillage_restore_{uuid.uuid4().hex[:12]}"
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    with server.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    server.dispose()


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as connection:
        per_type = connection.execute(
            select(Resource.resource_type, func.count()).group_by(Resource.resource_type)
        ).all()
        index_rows = connection.execute(select(func.count()).select_from(SearchEntry)).scalar()
        orphans = connection.execute(text(ORPHANS), {"no": False}).scalar()
    engine.dispose()
    return {
        **dict(per_type),
        "search index rows": int(index_rows or 0),
        "index rows of no live resource": int(orphans or 0),
    }


def _analysed(url: str) -> set[str]:
    """The tables with planner statistics: ANALYZEd on PostgreSQL (pg_restore brings none), in
    ``sqlite_stat1`` on SQLite."""
    engine = make_engine(Settings(database_url=url).sqlalchemy_url)
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            query = "SELECT relname FROM pg_stat_user_tables WHERE analyze_count > 0"
        else:
            query = "SELECT DISTINCT tbl FROM sqlite_stat1"
        found = set(connection.execute(text(query)).scalars())
    engine.dispose()
    return found


def test_backup_and_restore_keep_every_resource_and_a_verified_audit_trail(
    database_url: str, empty_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url, env="development")
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    seed(session_factory(engine), settings, tmp_path / "accounts.txt", scale=0.02)
    engine.dispose()
    archive = tmp_path / "network.backup"

    code, output = _run(database_url, "db", "backup", str(archive))
    assert code == 0, output
    code, output = _run(empty_url, "db", "restore", str(archive))
    assert code == 0, output

    original, restored = (
        _counts(settings.sqlalchemy_url),
        _counts(Settings(database_url=empty_url).sqlalchemy_url),
    )
    assert restored == original
    assert original["AuditEvent"] > 0 and original["Appointment"] > 0
    assert original["index rows of no live resource"] == 0  # no foreign key cascades them
    assert {"fhir_resource", "fhir_search"} <= _analysed(empty_url)
    code, output = _run(empty_url, "db", "verify-audit")
    assert code == 0, output
    assert "intact" in output


def test_backup_never_overwrites_and_restore_needs_an_empty_database(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url, env="development")
    make_engine(settings.sqlalchemy_url).dispose()
    _run(database_url, "db", "upgrade")
    existing = tmp_path / "notes.txt"
    existing.write_text("a user's file")

    code, output = _run(database_url, "db", "backup", str(existing))
    assert code == 2
    assert "already exists" in output
    assert existing.read_text() == "a user's file"

    archive = tmp_path / "network.backup"
    assert _run(database_url, "db", "backup", str(archive))[0] == 0
    code, output = _run(database_url, "db", "restore", str(archive))
    assert code == 2
    assert "not empty" in output
    assert not list(tmp_path.glob(".*.partial"))
