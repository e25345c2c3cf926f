"""The acting principal: an account and the resources it acts as (its care relationships)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from psycopg.rows import namedtuple_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from maillage.care.errors import Forbidden
from maillage.care.identifiers import validate_idnat_ps
from maillage.store import users
from maillage.store.database import autocommit, transaction
from maillage.store.models import RESOURCES, USERS
from maillage.store.psycopg_sql import compiled
from maillage.store.search_params import normalise_reference
from maillage.store.users import Role as Role  # re-exported: the doors name roles


@dataclass(frozen=True)
class Principal:
    """The authenticated account of a request, a page or a job, and the resources it acts as."""

    user_id: int
    email: str
    role: Role
    practitioner: str | None = None
    patient: str | None = None
    site: str | None = None
    organization: str | None = None

    @property
    def acts_as(self) -> frozenset[str]:
        """References that give care relationships: own Practitioner, site, site's organisation."""
        return frozenset(r for r in (self.practitioner, self.site, self.organization) if r)


class Account(Protocol):
    """What a login proves: the account's id and role (a stored user)."""

    id: int
    role: str


PROFESSIONALS = frozenset({Role.PRACTITIONER, Role.SITE_PROFESSIONAL})
"""The health professionals, whom the national security policy (PGSSI-S) sends to Pro Santé
Connect rather than a password for sensitive health services."""


def authenticate(
    sessions: sessionmaker[Session],
    email: str,
    password: str,
    *,
    professionals_by_password: bool = True,
) -> Account | None:
    """The active account with this e-mail and password, or None (timing does not tell
    which was wrong). With ``professionals_by_password`` False a professional's right password
    is refused (:class:`Forbidden`): they must use Pro Santé Connect."""
    with transaction(sessions) as session:
        user = users.authenticate(session, email, password)
    if user is not None and not professionals_by_password and Role(user.role) in PROFESSIONALS:
        raise Forbidden("password login is closed to health professionals: use Pro Santé Connect")
    return user


class PscOutcome(StrEnum):
    """What a Pro Santé Connect login found for its identifier."""

    ACCOUNT = "account"  # an active account: logged in
    UNKNOWN = "unknown"  # no account: refused
    CREATED = "created"  # no account, and one was created pending an admin's validation
    PENDING = "pending"  # an account still awaiting an admin's validation
    INACTIVE = "inactive"  # a deactivated account


def authenticate_psc(
    sessions: sessionmaker[Session], idnat_ps: str, *, create_pending: bool = False
) -> tuple[PscOutcome, Account | None]:
    """The account whose stored PSC identifier is ``idnat_ps`` (Pro Santé Connect's
    ``SubjectNameID``), matched exactly: an RPPS alone never matches, as no account stores one.
    With ``create_pending`` an unknown identifier gets an inactive account that an admin
    validates (``maillage users validate``)."""
    with transaction(sessions) as session:
        user = users.by_psc_id(session, idnat_ps)
        if user is None:
            if not create_pending or not _valid_idnat_ps(idnat_ps):
                return PscOutcome.UNKNOWN, None
            users.create_pending_psc(session, idnat_ps)
            return PscOutcome.CREATED, None
        if user.pending:
            return PscOutcome.PENDING, None
        if not user.active:
            return PscOutcome.INACTIVE, None
        return PscOutcome.ACCOUNT, user


def _valid_idnat_ps(value: str) -> bool:
    try:
        validate_idnat_ps(value)
    except ValueError:
        return False
    return True


_USER = select(USERS).where(USERS.c.id == bindparam("user_id"))
_SITE = select(RESOURCES.c.body).where(
    RESOURCES.c.resource_type == bindparam("kind"), RESOURCES.c.id == bindparam("id")
)


def load_principal(engine: Engine, user_id: int) -> Principal | None:
    """The active account ``user_id`` as a principal: one or two Core reads in autocommit, of
    statements built once, as this runs before every authenticated request."""
    with autocommit(engine) as connection:
        user = connection.execute(_USER, {"user_id": user_id}).first()
        if user is None or not user.active:
            return None
        site = None
        if user.site:
            site_type, _, site_id = user.site.partition("/")
            site = connection.execute(_SITE, {"kind": site_type, "id": site_id}).scalar()
    return _principal(user, site)


async def load_principal_async(pool: AsyncConnectionPool, user_id: int) -> Principal | None:
    """:func:`load_principal` on the asynchronous pool, from the event loop. A server reads
    each account again every ``principal_cache_seconds``: under the booking benchmark's 50
    accounts that is 50 reads a second, each a worker thread and a SQLAlchemy connection
    otherwise (issue 23)."""
    async with pool.connection() as connection:
        cursor = connection.cursor(row_factory=namedtuple_row)
        user: Any = await (await cursor.execute(*compiled(_USER, user_id=user_id))).fetchone()
        if user is None or not user.active:
            return None
        site = None
        if user.site:
            site_type, _, site_id = user.site.partition("/")
            found = await cursor.execute(*compiled(_SITE, kind=site_type, id=site_id))
            site = (await found.fetchone() or (None,))[0]
    return _principal(user, site)


def _principal(user: Any, site: dict[str, Any] | None) -> Principal:
    """The principal of an active ``user`` row, its ``site``'s body (None: none, or unknown)
    giving its organisation."""
    reference = ((site or {}).get("managingOrganization") or {}).get("reference")
    return Principal(
        user_id=user.id,
        email=user.email,
        role=Role(user.role),
        practitioner=user.practitioner,
        patient=user.patient,
        site=user.site,
        organization=normalise_reference(reference) if reference else None,
    )
