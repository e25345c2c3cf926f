"""User accounts: the operator's first administrator, then the admin's management of them.

The rules (known role, password length, the resources a role must act as) are the store's
(:mod:`maillage.store.users`). :func:`create_account` is the command line's door, in its own
transaction; :class:`Accounts` is the administration pages' one, bound to a principal's
repository: admins only, and every change (and every refused attempt) recorded in the audit
trail with the account it touched.

Nobody is ever shown a password. A new account gets a random one that no one knows, and its
owner chooses their own through a *reset link*: a signed token naming the account and a
fingerprint of its current password hash, so that it works once (setting a password changes
the hash) and for :data:`RESET_LIFETIME` only (the pattern of Django's password-reset tokens).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from maillage.care import audit
from maillage.care.errors import Forbidden, Invalid, NotFound
from maillage.care.principal import Principal
from maillage.config import Settings
from maillage.store import audit as audit_trail
from maillage.store.database import transaction
from maillage.store.models import User
from maillage.store.users import AccountError as AccountError  # re-exported: callers catch it
from maillage.store.users import Role, checked_password, checked_role, create_user, link

if TYPE_CHECKING:
    from maillage.care.repository import Repository

RESET_LIFETIME = timedelta(hours=72)
_RESET_SALT = "maillage.account.reset"


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


@dataclass(frozen=True)
class Account:
    """An account as the administration shows it: never its password hash."""

    id: int
    email: str
    role: Role
    practitioner: str | None
    patient: str | None
    site: str | None
    active: bool
    created: datetime


@dataclass(frozen=True)
class Links:
    """The resources an account acts as (``Type/id`` references, or None)."""

    practitioner: str | None = None
    patient: str | None = None
    site: str | None = None


def _account(user: User) -> Account:
    return Account(
        user.id,
        user.email,
        Role(user.role),
        user.practitioner,
        user.patient,
        user.site,
        user.active,
        user.created,
    )


def _fingerprint(user: User) -> str:
    """Changes whenever the password does (the hash is salted): a reset link works once."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:32]


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt=_RESET_SALT)


def _reset_token(settings: Settings, user: User) -> str:
    return _serializer(settings).dumps({"uid": user.id, "fp": _fingerprint(user)})


def record_change(
    session: Session,
    settings: Settings,
    access: audit.Access,
    email: str,
    description: str,
    outcome: str = audit.SUCCESS,
) -> None:
    """Append an AuditEvent naming the account (by e-mail) that was created or changed."""
    body = audit.event(access, [], outcome, description)
    body["entity"] = [{"what": {"identifier": {"system": audit.USER_SYSTEM, "value": email}}}]
    audit_trail.append(session, body)


class Accounts:
    """The accounts as the repository's principal may manage them: admins only."""

    def __init__(self, repository: Repository) -> None:
        self.repository = repository

    def _admin(self, interaction: str, target: str) -> Principal:
        """The acting admin; anyone else is refused, and the attempt audited."""
        repository = self.repository
        principal = repository.principal
        if principal is not None and principal.role is Role.ADMIN:
            return principal
        access = audit.Access(principal, repository.address, interaction)
        with transaction(repository.sessions) as session:
            refusal = "only admins manage accounts"
            record_change(
                session, repository.settings, access, target, refusal, audit.SERIOUS_FAILURE
            )
        raise Forbidden(refusal)

    def _change(self, user_id: int, what: str, change: Callable[[User], str | None]) -> Account:
        """Apply ``change`` to the account, as an admin, and audit what it says it did (None:
        nothing); an admin does not ``what`` their own account (no locking oneself out)."""
        repository = self.repository
        principal = self._admin("update", f"account {user_id}")
        with transaction(repository.sessions) as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFound(f"account {user_id} is not known")
            if user.id == principal.user_id:
                raise Forbidden(f"admins do not {what} their own account")
            description = change(user)
            if description is not None:
                access = audit.Access(principal, repository.address, "update")
                record_change(session, repository.settings, access, user.email, description)
            return _account(user)

    def page(self, offset: int = 0, count: int = 50, email: str = "") -> tuple[list[Account], int]:
        """A page of accounts by e-mail (those starting with ``email``), and their number."""
        repository = self.repository
        self._admin("search-type", "accounts")
        wanted = select(User).where(User.email.startswith(email.strip().lower(), autoescape=True))
        with transaction(repository.sessions) as session:
            total = session.scalar(select(func.count()).select_from(wanted.subquery())) or 0
            rows = session.scalars(wanted.order_by(User.email).offset(offset).limit(count))
            return [_account(user) for user in rows], total

    def read(self, user_id: int) -> Account:
        """One account."""
        self._admin("read", f"account {user_id}")
        with transaction(self.repository.sessions) as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFound(f"account {user_id} is not known")
            return _account(user)

    def create(self, email: str, role: Role | str, links: Links) -> tuple[Account, str]:
        """Create an account with a password nobody knows; its reset token (see the module)
        lets its owner choose one."""
        repository = self.repository
        principal = self._admin("create", email)
        checked = checked_role(role)
        self._check_links(links)
        with transaction(repository.sessions) as session:
            user = create_user(
                session,
                email,
                secrets.token_urlsafe(32),
                checked,
                practitioner=links.practitioner,
                patient=links.patient,
                site=links.site,
            )
            description = f"account created: role {checked.value}{_described(links)}"
            access = audit.Access(principal, repository.address, "create")
            record_change(session, repository.settings, access, user.email, description)
            return _account(user), _reset_token(repository.settings, user)

    def assign(self, user_id: int, role: Role | str, links: Links) -> Account:
        """Change an account's role and the resources it acts as."""
        self._admin("update", f"account {user_id}")
        checked = checked_role(role)
        self._check_links(links)

        def change(user: User) -> str | None:
            before = (user.role, user.practitioner, user.patient, user.site)
            link(
                user,
                checked,
                practitioner=links.practitioner,
                patient=links.patient,
                site=links.site,
            )
            if before == (user.role, user.practitioner, user.patient, user.site):
                return None
            return f"role and links: {before[0]} → {checked.value}{_described(links)}"

        return self._change(user_id, "change the role of", change)

    def activate(self, user_id: int, active: bool) -> Account:
        """Open or close an account: a closed one logs in no more, and its open sessions end
        at their next request (the principal is re-read on each)."""

        def change(user: User) -> str | None:
            if user.active == active:
                return None
            user.active = active
            return "account reactivated" if active else "account deactivated"

        return self._change(user_id, "deactivate", change)

    def reset(self, user_id: int) -> str:
        """Replace the account's password by one nobody knows (the old one stops working) and
        return the one-time token with which its owner chooses a new one."""
        tokens: list[str] = []
        settings = self.repository.settings

        def change(user: User) -> str:
            user.password_hash = checked_password(secrets.token_urlsafe(32))
            tokens.append(_reset_token(settings, user))
            return "password reset: one-time link issued"

        self._change(user_id, "reset the password of", change)
        return tokens[0]

    def _check_links(self, links: Links) -> None:
        """Refuse links to resources that do not exist (read through the repository)."""
        for reference in (links.practitioner, links.patient, links.site):
            if reference is None:
                continue
            kind, _, ident = reference.partition("/")
            if kind not in ("Practitioner", "Patient", "Location") or not ident:
                raise AccountError(
                    f"expected Type/ID, got {reference!r}", "Cette référence n'est pas valide."
                )
            try:
                self.repository.read(kind, ident)
            except (NotFound, Invalid) as error:
                raise AccountError(
                    f"{reference} is not known", f"{reference} n'existe pas dans le réseau."
                ) from error


def _described(links: Links) -> str:
    named = [f"{k} {v}" for k, v in vars(links).items() if v]
    return f", acting as {', '.join(named)}" if named else ""


def reset_account(
    sessions: sessionmaker[Session], settings: Settings, token: str, password: str
) -> str:
    """Set the password of the account a reset token names (once, within its lifetime): the
    account's e-mail. :class:`AccountError` when the token is not (or no longer) valid or the
    password too short; the change is audited as the account's own."""
    try:
        data = _serializer(settings).loads(token, max_age=int(RESET_LIFETIME.total_seconds()))
        user_id, fingerprint = int(data["uid"]), str(data["fp"])
    except (BadSignature, KeyError, TypeError, ValueError) as error:
        raise AccountError("invalid or expired reset link", _STALE) from error
    with transaction(sessions) as session:
        user = session.get(User, user_id)
        if user is None or not user.active or _fingerprint(user) != fingerprint:
            raise AccountError("reset link already used or account closed", _STALE)
        user.password_hash = checked_password(password)
        owner = Principal(user.id, user.email, Role(user.role), user.practitioner, user.patient)
        access = audit.Access(owner, "password reset link", "update")
        record_change(session, settings, access, user.email, "password set through a reset link")
        return user.email


_STALE = "Ce lien n'est plus valable (déjà utilisé ou expiré) : demandez-en un nouveau."
