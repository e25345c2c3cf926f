"""The server's CLI commands: accounts are created from standard input, never by default."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from api_server import PASSWORD
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from maillage.admin.server_commands import register
from maillage.config import Settings
from maillage.server import create_app
from maillage.store.database import transaction
from maillage.store.models import User


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("MAILLAGE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite'}")
    monkeypatch.setenv("MAILLAGE_SECRET_KEY", "c" * 40)
    app = typer.Typer()
    register(app)
    return app


def test_a_fresh_server_has_no_account(cli: typer.Typer) -> None:
    """No default credentials: migrations and start-up create no account to log in with."""
    app = create_app(Settings())
    with transaction(app.state.sessions) as session:
        assert session.query(User).count() == 0
    with TestClient(app) as client:
        for username, password in (("admin", "admin"), ("admin@example.org", "admin")):
            form = {"username": username, "password": password}
            assert client.post("/auth/token", data=form).status_code == 401
    app.state.engine.dispose()


def test_users_create_then_login(cli: typer.Typer) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    args = ["users", "create", "--email", "Admin@Example.org", "--role", "admin"]
    result = runner.invoke(cli, [*args, "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    again = runner.invoke(cli, [*args, "--password-stdin"], input=PASSWORD + "\n")
    assert again.exit_code == 1
    assert "already exists" in again.output
    app = create_app(Settings())
    with TestClient(app) as client:
        form = {"username": "admin@example.org", "password": PASSWORD}
        token = client.post("/auth/token", data=form)
        assert token.status_code == 200
        assert token.json()["token_type"] == "bearer"
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assert client.get("/fhir/AuditEvent", headers=bearer).status_code == 200
    app.state.engine.dispose()
    verified = runner.invoke(cli, ["db", "verify-audit"])
    assert verified.exit_code == 0
    assert "intact" in verified.output


def test_users_create_links_the_account(cli: typer.Typer) -> None:
    """The account is linked to the FHIR resources it acts as, which its access rules use."""
    args = ["users", "create", "--email", "nurse@example.org", "--role", "site-professional"]
    links = ["--site", "Location/site-1", "--practitioner", "Practitioner/nurse"]
    result = CliRunner().invoke(cli, [*args, *links, "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    app = create_app(Settings())
    with transaction(app.state.sessions) as session:
        user = session.query(User).one()
        assert (user.role, user.site, user.practitioner, user.patient) == (
            "site-professional",
            "Location/site-1",
            "Practitioner/nurse",
            None,
        )
    app.state.engine.dispose()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--role", "patient"], "needs --patient"),
        (["--role", "practitioner", "--practitioner", "Patient/1"], "expected Practitioner/ID"),
        (["--role", "planner"], "at least 12"),
    ],
)
def test_users_create_refusals(cli: typer.Typer, extra: list[str], message: str) -> None:
    password = "short" if message == "at least 12" else PASSWORD
    result = CliRunner().invoke(
        cli,
        ["users", "create", "--email", "x@example.org", *extra, "--password-stdin"],
        input=password + "\n",
    )
    assert result.exit_code == 1
    assert message in result.output


def test_production_without_secret_refuses_to_start(
    cli: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILLAGE_ENV", "production")
    monkeypatch.delenv("MAILLAGE_SECRET_KEY")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert "MAILLAGE_SECRET_KEY" in result.output
