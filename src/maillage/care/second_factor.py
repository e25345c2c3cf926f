"""The second factor of password logins: TOTP codes (RFC 6238) from an authenticator app.

Admins, coordinators and the DPO must have one when ``MAILLAGE_TOTP_REQUIRED`` (by default in
production: they reach every record, or the audit trail); anyone else, patients included, may
add one. After the right password, :func:`step_after_password` says what the login still needs:
nothing, a code, or an enrolment first.

The secret is stored encrypted (Fernet, key derived from ``MAILLAGE_SECRET_KEY`` with HKDF:
changing that key voids the enrolments, as it signs everyone out) and shown once, while it is
enrolled: the QR code and its text. Enrolment counts once a first code confirms it; ten
recovery codes are then shown once and kept as SHA-256 hashes, each accepted once. A code is
accepted within one 30-second step of the server's clock (the phone's may drift), and never
twice: the last accepted step is stored (RFC 6238 §5.2). Enrolment, use of a recovery code and
withdrawal are written in the audit trail with the account, and so is each code refused (a
password known to someone else shows there).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session, sessionmaker

from maillage.care import audit
from maillage.care.accounts import record_change
from maillage.care.errors import Conflict, Forbidden, NotFound
from maillage.care.principal import Principal
from maillage.config import Settings
from maillage.store.database import transaction
from maillage.store.models import User, utcnow
from maillage.store.users import Role

#: Roles that must log in with a second factor when it is required.
REQUIRED_ROLES = frozenset({Role.ADMIN, Role.COORDINATOR, Role.DPO})
ISSUER = "maillage"
RECOVERY_CODES = 10
#: Time steps accepted on either side of the server's: a phone's clock may be off by 30 s.
DRIFT_STEPS = 1


class Step(StrEnum):
    """What a login still needs once the password was right."""

    NONE = "none"
    CODE = "code"
    ENROL = "enrol"


class InvalidCode(ValueError):
    """A code that is wrong, expired, or already used."""


@dataclass(frozen=True)
class Enrolment:
    """A secret being enrolled: its text (for manual entry), its URI and that URI as a QR
    code (an SVG data URI)."""

    secret: str
    uri: str
    qr: str


def required(role: str, settings: Settings) -> bool:
    """Whether an account of ``role`` must have a second factor."""
    return settings.second_factor_required and role in REQUIRED_ROLES


def _cipher(settings: Settings) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"maillage second factor"
    ).derive(settings.signing_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _account(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound("no such active account")
    return user


def _owner(user: User, address: str, interaction: str) -> audit.Access:
    owner = Principal(user.id, user.email, Role(user.role), user.practitioner, user.patient)
    return audit.Access(owner, address, interaction)


def enrolled(sessions: sessionmaker[Session], user_id: int) -> bool:
    """Whether the account has a confirmed second factor."""
    with transaction(sessions) as session:
        return _account(session, user_id).totp_confirmed is not None


def step_after_password(sessions: sessionmaker[Session], settings: Settings, user_id: int) -> Step:
    """What a login with the right password still needs."""
    with transaction(sessions) as session:
        user = _account(session, user_id)
        if user.totp_confirmed is not None:
            return Step.CODE
        return Step.ENROL if required(user.role, settings) else Step.NONE


def begin(sessions: sessionmaker[Session], settings: Settings, user_id: int) -> Enrolment:
    """The secret being enrolled: the one already waiting for its confirming code (a reload
    or a mistyped code does not make the person scan again), else a new one, kept encrypted.
    An account already enrolled withdraws its factor first (:class:`Conflict`)."""
    with transaction(sessions) as session:
        user = _account(session, user_id)
        if user.totp_confirmed is not None:
            raise Conflict("a second factor is already enrolled")
        try:
            secret = _secret(settings, user)
        except InvalidCode:  # none waiting (or unreadable): a new one
            secret = pyotp.random_base32()
            user.totp_secret = _cipher(settings).encrypt(secret.encode()).decode()
            user.totp_step = None
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return Enrolment(secret, uri, segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


def _secret(settings: Settings, user: User) -> str:
    if user.totp_secret is None:
        raise InvalidCode("no second factor is being enrolled")
    try:
        return _cipher(settings).decrypt(user.totp_secret.encode()).decode()
    except InvalidToken as error:  # MAILLAGE_SECRET_KEY changed since the enrolment
        raise InvalidCode("the second factor cannot be read: enrol it again") from error


def _accept_totp(settings: Settings, user: User, code: str, now: datetime) -> bool:
    """Accept a TOTP code once: within the drift, after the last step accepted."""
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return False
    totp = pyotp.TOTP(_secret(settings, user))
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        fresh = user.totp_step is None or step > user.totp_step
        if fresh and hmac.compare_digest(totp.generate_otp(step), code):
            user.totp_step = step
            return True
    return False


def _digest(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").replace(" ", "").lower().encode()).hexdigest()


def confirm(
    sessions: sessionmaker[Session],
    settings: Settings,
    user_id: int,
    code: str,
    *,
    address: str,
    now: datetime | None = None,
) -> list[str]:
    """Enrol the pending secret once ``code`` proves the app has it; the recovery codes,
    shown this once. :class:`InvalidCode` when the code is not right."""
    with transaction(sessions) as session:
        user = _account(session, user_id)
        if user.totp_confirmed is not None:
            raise Conflict("a second factor is already enrolled")
        if not _accept_totp(settings, user, code.strip(), now or datetime.now(UTC)):
            raise InvalidCode("wrong or expired code")
        codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
        user.totp_confirmed = utcnow()
        user.totp_recovery = [_digest(c) for c in codes]
        access = _owner(user, address, "update")
        record_change(session, settings, access, user.email, "second factor (TOTP) enrolled")
    return codes


def check(
    sessions: sessionmaker[Session],
    settings: Settings,
    user_id: int,
    code: str,
    *,
    address: str,
    now: datetime | None = None,
) -> bool:
    """Whether ``code`` (a TOTP code, or a recovery code, then spent) completes the login of
    an enrolled account."""
    code = code.strip()
    with transaction(sessions) as session:
        user = _account(session, user_id)
        if user.totp_confirmed is None:
            return False
        if _accept_totp(settings, user, code, now or datetime.now(UTC)):
            return True
        left = list(user.totp_recovery or [])
        digest = _digest(code)
        if digest not in left:
            access = _owner(user, address, "read")
            refused = "second factor code refused"
            record_change(session, settings, access, user.email, refused, audit.MINOR_FAILURE)
            return False
        left.remove(digest)
        user.totp_recovery = left
        description = f"recovery code used ({len(left)} left)"
        record_change(session, settings, _owner(user, address, "update"), user.email, description)
        return True


def withdraw(
    sessions: sessionmaker[Session],
    settings: Settings,
    user_id: int,
    code: str,
    *,
    address: str,
    now: datetime | None = None,
) -> None:
    """Remove the account's second factor, proven by a current code; refused to the roles
    that must keep one."""
    with transaction(sessions) as session:
        user = _account(session, user_id)
        if required(user.role, settings):
            raise Forbidden("this role must keep its second factor")
        if user.totp_confirmed is None or not _accept_totp(
            settings, user, code.strip(), now or datetime.now(UTC)
        ):
            raise InvalidCode("wrong or expired code")
        user.totp_secret = user.totp_confirmed = user.totp_step = user.totp_recovery = None
        access = _owner(user, address, "update")
        record_change(session, settings, access, user.email, "second factor (TOTP) withdrawn")
