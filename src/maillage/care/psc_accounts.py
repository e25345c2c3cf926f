"""The accounts of Pro Santé Connect logins, as the operator manages them: each account's
professional national identifier (idNat_PS), and the validation of the accounts that a first
PSC login left pending (``MAILLAGE_PSC_CREATE_PENDING``).

Like :func:`maillage.care.accounts.create_account`, these are the command line's doors, each in
its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from maillage.care.identifiers import validate_idnat_ps
from maillage.store import users
from maillage.store.database import transaction
from maillage.store.models import User
from maillage.store.users import AccountError as AccountError  # re-exported: callers catch it
from maillage.store.users import Role


@dataclass(frozen=True)
class PscAccount:
    """An account as the PSC commands list it."""

    email: str
    role: Role
    psc_id: str | None
    created: datetime


def _psc_account(user: User) -> PscAccount:
    return PscAccount(user.email, Role(user.role), user.psc_id, user.created)


def checked_idnat_ps(value: str) -> str:
    """``value`` as an idNat_PS, or :class:`AccountError` saying what is wrong with it."""
    try:
        validate_idnat_ps(value)
    except ValueError as error:
        raise AccountError(str(error)) from error
    return value


def link_psc(sessions: sessionmaker[Session], email: str, idnat_ps: str) -> PscAccount:
    """Let the account ``email`` log in with Pro Santé Connect as ``idnat_ps`` (never a bare
    RPPS: see :func:`validate_idnat_ps`)."""
    with transaction(sessions) as session:
        return _psc_account(users.link_psc(session, email, checked_idnat_ps(idnat_ps)))


def pending_accounts(sessions: sessionmaker[Session]) -> list[PscAccount]:
    """Accounts created at a first Pro Santé Connect login, awaiting an admin."""
    with transaction(sessions) as session:
        return [_psc_account(user) for user in users.pending_accounts(session)]


def validate_account(
    sessions: sessionmaker[Session],
    email: str,
    role: Role | str,
    *,
    practitioner: str | None = None,
    site: str | None = None,
) -> PscAccount:
    """An admin's validation of a pending account: its role and links, then it is active."""
    with transaction(sessions) as session:
        user = users.validate_pending(session, email, role, practitioner=practitioner, site=site)
        return _psc_account(user)
