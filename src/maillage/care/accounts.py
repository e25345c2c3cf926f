"""User accounts as the operator creates them: the first administrator, then each account.

The rules (known role, password length, the resources a role must act as) are the store's
:func:`maillage.store.users.create_user`; this is the door to it that opens its own transaction,
so the command line needs no session.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from maillage.store.database import transaction
from maillage.store.users import AccountError as AccountError  # re-exported: callers catch it
from maillage.store.users import Role, create_user


@dataclass(frozen=True)
class Created:
    """The account just created, as the operator is told of it."""

    email: str
    role: Role


def create_account(
    sessions: sessionmaker[Session],
    email: str,
    password: str,
    role: Role | str,
    *,
    practitioner: str | None = None,
    patient: str | None = None,
    site: str | None = None,
) -> Created:
    """Create one account in its own transaction; :class:`AccountError` says why not."""
    with transaction(sessions) as session:
        user = create_user(
            session, email, password, role, practitioner=practitioner, patient=patient, site=site
        )
        return Created(user.email, Role(user.role))
