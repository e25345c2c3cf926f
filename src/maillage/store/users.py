"""User accounts: roles, argon2 password hashes, Pro Santé Connect identifiers and the FHIR
resources an account acts as."""

from __future__ import annotations

import re
import secrets
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from maillage.store.models import User

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so that timing does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("not a password of anyone")
MIN_PASSWORD_LENGTH = 12


class Role(StrEnum):
    """The roles of the network: the six the specification names, and the data protection
    officer (RGPD art. 37–39), who audits accesses and reads no care data."""

    ADMIN = "admin"
    COORDINATOR = "coordinator"
    PLANNER = "planner"
    SITE_PROFESSIONAL = "site-professional"
    PRACTITIONER = "practitioner"
    PATIENT = "patient"
    DPO = "dpo"


class AccountError(ValueError):
    """An account that cannot be created or changed as asked; ``french`` says why to the pages."""

    def __init__(self, message: str, french: str | None = None) -> None:
        super().__init__(message)
        self.french = french or "Le compte ne peut pas être enregistré ainsi."


def _reference(value: str | None, resource_type: str) -> str | None:
    if value is None:
        return None
    if not re.fullmatch(rf"{resource_type}/[A-Za-z0-9\-.]{{1,64}}", value):
        raise AccountError(
            f"expected {resource_type}/ID, got {value!r}",
            f"Référence attendue de la forme {resource_type}/identifiant.",
        )
    return value


def checked_role(role: Role | str) -> Role:
    """``role`` as a :class:`Role`; :class:`AccountError` when it is none of them."""
    try:
        return Role(role)
    except ValueError as error:
        raise AccountError(
            f"unknown role {role!r}; roles: {', '.join(Role)}", "Ce rôle n'existe pas."
        ) from error


def checked_password(password: str) -> str:
    """An argon2 hash of ``password``, once it is long enough."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"passwords need at least {MIN_PASSWORD_LENGTH} characters",
            f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères.",
        )
    return _hasher.hash(password)


def link(
    user: User,
    role: Role,
    *,
    practitioner: str | None = None,
    patient: str | None = None,
    site: str | None = None,
) -> None:
    """Give ``user`` its role and the resources it acts as: a patient account must name its
    Patient, a site professional their site, a remote doctor their Practitioner."""
    needs = {
        Role.PATIENT: (patient, "--patient Patient/ID", "un compte patient nomme son dossier"),
        Role.SITE_PROFESSIONAL: (site, "--site Location/ID", "un professionnel nomme son site"),
        Role.PRACTITIONER: (practitioner, "--practitioner Practitioner/ID", "un médecin se nomme"),
    }
    if role in needs and needs[role][0] is None:
        _, option, french = needs[role]
        raise AccountError(
            f"a {role.value} account needs {option}",
            f"Rattachement manquant : {french}.",
        )
    user.role = role.value
    user.practitioner = _reference(practitioner, "Practitioner")
    user.patient = _reference(patient, "Patient")
    user.site = _reference(site, "Location")


def create_user(
    session: Session,
    email: str,
    password: str,
    role: Role | str,
    *,
    practitioner: str | None = None,
    patient: str | None = None,
    site: str | None = None,
) -> User:
    """Create an account; a patient account must name its Patient, a professional their links
    (:func:`link`)."""
    role = checked_role(role)
    password_hash = checked_password(password)
    if not re.fullmatch(r"[^@\s\x00]+@[^@\s\x00]+", email):
        raise AccountError(
            f"{email!r} is not an e-mail address", "Cette adresse électronique n'est pas valide."
        )
    user = User(email=email.lower(), password_hash=password_hash, active=True)
    link(user, role, practitioner=practitioner, patient=patient, site=site)
    session.add(user)
    try:
        session.flush()
    except IntegrityError as error:
        raise AccountError(
            f"an account for {email} already exists", f"Un compte existe déjà pour {email}."
        ) from error
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active account with these credentials, rehashing it if the parameters changed.

    An e-mail holding a NUL matches no account (PostgreSQL would refuse it in the query).
    """
    user = (
        None
        if "\x00" in email
        else session.execute(select(User).where(User.email == email.lower())).scalar_one_or_none()
    )
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _by_email(session: Session, email: str) -> User:
    user = session.execute(select(User).where(User.email == email.lower())).scalar_one_or_none()
    if user is None:
        raise AccountError(f"no account for {email}", f"Aucun compte pour {email}.")
    return user


def by_psc_id(session: Session, psc_id: str) -> User | None:
    """The account, active or not, whose Pro Santé Connect identifier is ``psc_id``."""
    return session.execute(select(User).where(User.psc_id == psc_id)).scalar_one_or_none()


def link_psc(session: Session, email: str, psc_id: str) -> User:
    """Give the account ``email`` its Pro Santé Connect identifier (one account per identifier)."""
    user = _by_email(session, email)
    user.psc_id = psc_id
    try:
        session.flush()
    except IntegrityError as error:
        raise AccountError(
            f"{psc_id} is already the identifier of another account",
            f"{psc_id} est déjà l'identifiant d'un autre compte.",
        ) from error
    return user


def create_pending_psc(session: Session, psc_id: str) -> User:
    """An inactive account for an unknown professional at their first Pro Santé Connect login,
    pending an admin's validation; its password is a random one nobody knows."""
    user = User(
        email=f"psc-{psc_id}@pro-sante-connect.invalid",
        password_hash=_hasher.hash(secrets.token_urlsafe(32)),
        role=Role.PRACTITIONER.value,
        psc_id=psc_id,
        pending=True,
        active=False,
    )
    session.add(user)
    session.flush()
    return user


def pending_accounts(session: Session) -> list[User]:
    """The accounts awaiting an admin's validation, oldest first."""
    query = select(User).where(User.pending.is_(True)).order_by(User.created, User.id)
    return list(session.execute(query).scalars())


def validate_pending(
    session: Session,
    email: str,
    role: Role | str,
    *,
    practitioner: str | None = None,
    site: str | None = None,
) -> User:
    """Activate a pending account with its role and the resources it acts as (:func:`link`)."""
    user = _by_email(session, email)
    if not user.pending:
        raise AccountError(
            f"{user.email} is not pending validation", "Ce compte n'attend pas de validation."
        )
    checked = checked_role(role)
    if checked not in (Role.PRACTITIONER, Role.SITE_PROFESSIONAL):
        raise AccountError(
            "a Pro Santé Connect account is a practitioner or a site-professional",
            "Un compte Pro Santé Connect est celui d'un médecin ou d'un professionnel de site.",
        )
    link(user, checked, practitioner=practitioner, site=site)
    user.pending = False
    user.active = True
    return user
