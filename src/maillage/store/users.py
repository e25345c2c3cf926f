"""User accounts: roles, argon2 password hashes and the FHIR resources an account acts as."""

from __future__ import annotations

import re
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
    """The six roles of the network, by the exact names the specification uses."""

    ADMIN = "admin"
    COORDINATOR = "coordinator"
    PLANNER = "planner"
    SITE_PROFESSIONAL = "site-professional"
    PRACTITIONER = "practitioner"
    PATIENT = "patient"


class AccountError(ValueError):
    """An account that cannot be created as asked."""


def _reference(value: str | None, resource_type: str) -> str | None:
    if value is None:
        return None
    if not re.fullmatch(rf"{resource_type}/[A-Za-z0-9\-.]{{1,64}}", value):
        raise AccountError(f"expected {resource_type}/ID, got {value!r}")
    return value


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
    """Create an account; a patient account must name its Patient, a professional their links."""
    try:
        role = Role(role)
    except ValueError as error:
        raise AccountError(f"unknown role {role!r}; roles: {', '.join(Role)}") from error
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    if not re.fullmatch(r"[^@\s\x00]+@[^@\s\x00]+", email):
        raise AccountError(f"{email!r} is not an e-mail address")
    if role is Role.PATIENT and patient is None:
        raise AccountError("a patient account needs --patient Patient/ID")
    if role is Role.SITE_PROFESSIONAL and site is None:
        raise AccountError("a site-professional account needs --site Location/ID")
    if role is Role.PRACTITIONER and practitioner is None:
        raise AccountError("a practitioner account needs --practitioner Practitioner/ID")
    user = User(
        email=email.lower(),
        password_hash=_hasher.hash(password),
        role=role.value,
        practitioner=_reference(practitioner, "Practitioner"),
        patient=_reference(patient, "Patient"),
        site=_reference(site, "Location"),
        active=True,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as error:
        raise AccountError(f"an account for {email} already exists") from error
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
