"""``maillage users link-psc | pending | validate``: the accounts of Pro Santé Connect logins.

An account logs in with PSC once it stores its professional's national identifier (idNat_PS);
an unknown professional's first login may leave an inactive account
(``MAILLAGE_PSC_CREATE_PENDING``), which an admin validates here with its role and the resources
it acts as.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from maillage.console import settings_or_exit

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


def _sessions() -> sessionmaker[Session]:
    from maillage.admin.server_commands import _migrated
    from maillage.store.database import session_factory

    return session_factory(_migrated(settings_or_exit()))


def users_link_psc(
    user: Annotated[str, typer.Argument(help="The account's login e-mail.")],
    idnat: Annotated[
        str, typer.Argument(help="idNat_PS: 8 + RPPS (12 digits) or 0 + ADELI (10 digits).")
    ],
) -> None:
    """Let an account log in with Pro Santé Connect as this national identifier."""
    from maillage.care.psc_accounts import AccountError, link_psc

    try:
        account = link_psc(_sessions(), user, idnat)
    except AccountError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"{account.email} ({account.role}) logs in with Pro Santé Connect as {idnat}")


def users_pending() -> None:
    """List the accounts a first Pro Santé Connect login left awaiting validation."""
    from maillage.care.psc_accounts import pending_accounts

    accounts = pending_accounts(_sessions())
    for account in accounts:
        typer.echo(f"{account.email}\t{account.psc_id}\t{account.created:%Y-%m-%d %H:%M} UTC")
    if not accounts:
        typer.echo("no account pending validation")


def users_validate(
    user: Annotated[str, typer.Argument(help="The pending account's e-mail (users pending).")],
    role: Annotated[str, typer.Option(help="practitioner or site-professional.")] = "practitioner",
    practitioner: Annotated[str | None, typer.Option(help="Practitioner/ID it acts as.")] = None,
    site: Annotated[str | None, typer.Option(help="Location/ID of the user's site.")] = None,
) -> None:
    """Validate a pending account: give its role and links, and activate it."""
    from maillage.care.psc_accounts import AccountError, validate_account

    try:
        account = validate_account(_sessions(), user, role, practitioner=practitioner, site=site)
    except AccountError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"validated {account.email} ({account.role}, {account.psc_id})")


def register(users: typer.Typer) -> None:
    """Add the commands to the ``maillage users`` group."""
    users.command("link-psc")(users_link_psc)
    users.command("pending")(users_pending)
    users.command("validate")(users_validate)
