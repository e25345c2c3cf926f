"""Signed checkpoints catch what the hash chain alone cannot: a cut tail, a recomputed lane."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import typer
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from maillage.admin.server_commands import register
from maillage.config import Settings
from maillage.store import audit
from maillage.store.database import make_engine, session_factory, transaction, upgrade
from maillage.store.models import AUDIT_LINKS, SEARCH_INDEX, VERSIONS, Resource

ZONE = ZoneInfo("Europe/Paris")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("MAILLAGE_DATABASE_URL", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    monkeypatch.setenv("MAILLAGE_SECRET_KEY", "c" * 40)
    monkeypatch.setenv("MAILLAGE_AUDIT_CHECKPOINT_KEY", "k" * 40)
    monkeypatch.setenv("MAILLAGE_AUDIT_CHECKPOINT_FILE", str(tmp_path / "out" / "audit.ckpt"))
    app = typer.Typer()
    register(app)
    return app


def _sessions() -> sessionmaker[Session]:
    engine = make_engine(Settings().sqlalchemy_url)
    upgrade(engine)
    return session_factory(engine)


def _record(count: int) -> None:
    sessions = _sessions()
    for number in range(count):
        with transaction(sessions) as session:
            event = {"resourceType": "AuditEvent", "outcome": "0", "outcomeDesc": f"n{number}"}
            audit.append(session, event)


def _verify(cli: typer.Typer) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["db", "verify-audit"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _checkpointed(cli: typer.Typer) -> None:
    _record(5)
    result = CliRunner().invoke(cli, ["db", "checkpoint-audit"])
    assert result.exit_code == 0, result.output
    _record(2)  # later events are fine
    assert _verify(cli)[0] == 0


def test_a_cut_tail_is_detected(cli: typer.Typer) -> None:
    _checkpointed(cli)
    with transaction(_sessions()) as session:
        links = session.execute(select(AUDIT_LINKS).where(AUDIT_LINKS.c.seq >= 5)).all()
        session.execute(delete(AUDIT_LINKS).where(AUDIT_LINKS.c.seq >= 5))
        session.execute(delete(Resource).where(Resource.id.in_([x.event_id for x in links])))
    code, output = _verify(cli)
    assert code == 1
    assert "link 5 of lane 0" in output and "was removed" in output


def test_a_lane_rewritten_with_recomputed_hashes_is_detected(cli: typer.Typer) -> None:
    _checkpointed(cli)
    with transaction(_sessions()) as session:
        rows = session.execute(select(AUDIT_LINKS).order_by(AUDIT_LINKS.c.seq)).all()
        first = session.get(Resource, ("AuditEvent", rows[0].event_id))
        assert first is not None
        first.body = {**first.body, "outcomeDesc": "rewritten"}
        session.flush()
        previous = audit.GENESIS
        for row in rows:
            event = session.get(Resource, ("AuditEvent", row.event_id))
            assert event is not None
            digest = audit.link_hash(previous, event.body)
            session.execute(
                update(AUDIT_LINKS)
                .where(AUDIT_LINKS.c.lane == row.lane, AUDIT_LINKS.c.seq == row.seq)
                .values(prev_hash=previous, hash=digest)
            )
            previous = digest
    with transaction(_sessions()) as session:
        assert audit.verify(session).intact  # the chain alone is fooled
    code, output = _verify(cli)
    assert code == 1
    assert "differs from its checkpoint" in output


def test_an_edited_checkpoint_is_refused(cli: typer.Typer, tmp_path: Path) -> None:
    _checkpointed(cli)
    path = tmp_path / "out" / "audit.ckpt"
    path.write_text(path.read_text().replace('"heads": {"0": [5', '"heads": {"0": [4'))
    code, output = _verify(cli)
    assert code == 1
    assert "signature does not match" in output


def test_an_altered_kept_version_is_detected(cli: typer.Typer) -> None:
    _checkpointed(cli)
    with transaction(_sessions()) as session:
        session.execute(
            update(VERSIONS)
            .where(VERSIONS.c.resource_type == "AuditEvent")
            .values(body={"resourceType": "AuditEvent", "outcome": "8"})
        )
    code, output = _verify(cli)
    assert code == 1
    assert "kept version was altered" in output


def test_deleted_index_rows_are_detected(cli: typer.Typer) -> None:
    _checkpointed(cli)
    with transaction(_sessions()) as session:
        assert session.execute(delete(SEARCH_INDEX)).rowcount > 0
    code, output = _verify(cli)
    assert code == 1
    assert "search index rows were altered" in output


def test_the_audit_outbox_command_chains_what_requests_queued(cli: typer.Typer) -> None:
    """The worker's pass chains every queued event (rows of finished transactions) into the
    trail that the checkpoints and verify-audit cover."""
    _record(3)
    result = CliRunner().invoke(cli, ["outbox", "audit"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "3 chained, 0 seconds of lag, 0 waiting"
    with transaction(_sessions()) as session:
        assert len(session.execute(select(AUDIT_LINKS)).all()) == 3
    assert CliRunner().invoke(cli, ["db", "checkpoint-audit"]).exit_code == 0
    code, output = _verify(cli)
    assert code == 0, output
    assert "3 audit records checked: intact" in output
