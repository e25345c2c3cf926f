"""The accounts of Pro Santé Connect logins: ``maillage users link-psc | pending | validate``
and the login's match on the stored national identifier (idNat_PS), never on a bare RPPS."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from api_server import PASSWORD
from typer.testing import CliRunner

from maillage.admin.server_commands import register
from maillage.care.principal import PscOutcome, authenticate_psc
from maillage.config import Settings
from maillage.store.database import make_engine, session_factory

IDNAT = "810001045367"  # 8 + the RPPS 10001045367 (its Luhn key checks)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("MAILLAGE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite'}")
    monkeypatch.setenv("MAILLAGE_SECRET_KEY", "c" * 40)
    app = typer.Typer()
    register(app)
    return app


def _run(cli: typer.Typer, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    return result.exit_code, result.output


def _login(idnat: str, create_pending: bool = False) -> PscOutcome:
    engine = make_engine(Settings().sqlalchemy_url)
    try:
        outcome, _account = authenticate_psc(
            session_factory(engine), idnat, create_pending=create_pending
        )
    finally:
        engine.dispose()
    return outcome


def _create(cli: typer.Typer, email: str) -> None:
    args = ["users", "create", "--email", email, "--role", "practitioner"]
    code, output = _run(
        cli, *args, "--practitioner", "Practitioner/d1", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert code == 0, output


@pytest.mark.parametrize(
    ("idnat", "message"),
    [
        ("10001045367", "bare RPPS number"),
        ("810001045368", "RPPS check digit 8 is wrong"),
        ("8100010453", "8 followed by the 11-digit RPPS"),
        ("8100010453a7", "digits only"),
    ],
)
def test_link_psc_refuses_what_is_not_an_idnat_ps(
    cli: typer.Typer, idnat: str, message: str
) -> None:
    _create(cli, "doc@example.org")
    code, output = _run(cli, "users", "link-psc", "doc@example.org", idnat)
    assert code == 1
    assert message in output


def test_an_account_logs_in_on_its_stored_idnat_ps_only(cli: typer.Typer) -> None:
    _create(cli, "doc@example.org")
    _create(cli, "other@example.org")
    assert _login(IDNAT) is PscOutcome.UNKNOWN
    code, output = _run(cli, "users", "link-psc", "Doc@example.org", IDNAT)
    assert code == 0, output
    assert _login(IDNAT) is PscOutcome.ACCOUNT
    assert _login(IDNAT[1:]) is PscOutcome.UNKNOWN  # the RPPS alone matches nobody
    code, output = _run(cli, "users", "link-psc", "other@example.org", IDNAT)
    assert code == 1
    assert "already the identifier of another account" in output
    code, output = _run(cli, "users", "link-psc", "nobody@example.org", IDNAT)
    assert (code, "no account for nobody@example.org" in output) == (1, True)


def test_an_unknown_professional_waits_for_an_admins_validation(cli: typer.Typer) -> None:
    assert _run(cli, "users", "pending") == (0, "no account pending validation\n")
    assert _login(IDNAT) is PscOutcome.UNKNOWN  # creation not allowed: refused, nothing kept
    assert _run(cli, "users", "pending")[1] == "no account pending validation\n"
    assert _login(IDNAT, create_pending=True) is PscOutcome.CREATED
    assert _login(IDNAT[1:], create_pending=True) is PscOutcome.UNKNOWN  # never a bare RPPS
    assert _login(IDNAT, create_pending=True) is PscOutcome.PENDING
    code, output = _run(cli, "users", "pending")
    email = f"psc-{IDNAT}@pro-sante-connect.invalid"
    assert code == 0
    assert output.startswith(f"{email}\t{IDNAT}\t")
    assert len(output.splitlines()) == 1
    code, output = _run(cli, "users", "validate", email)
    assert code == 1
    assert "needs --practitioner" in output
    code, output = _run(cli, "users", "validate", email, "--role", "admin")
    assert (code, "practitioner or a site-professional" in output) == (1, True)
    code, output = _run(
        cli, "users", "validate", email, "--role", "site-professional", "--site", "Location/s1"
    )
    assert code == 0, output
    assert _login(IDNAT) is PscOutcome.ACCOUNT
    assert _run(cli, "users", "pending")[1] == "no account pending validation\n"
    code, output = _run(cli, "users", "validate", email, "--site", "Location/s1")
    assert (code, "is not pending validation" in output) == (1, True)
