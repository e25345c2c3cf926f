"""OAuth2 password flow issuing short-lived HS256 JWTs, and the principal behind each request.

Login is rate-limited with the ``limits`` library (moving window, in process memory) both per
client address and per account, so neither one address nor many can guess a password quickly.
The account is re-read on every request: a deactivated account or a changed role takes effect
at once, not when the token expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from maillage.api.errors import FHIRError
from maillage.config import Settings
from maillage.store.database import transaction
from maillage.store.models import Resource, User
from maillage.store.search_params import normalise_reference
from maillage.store.users import Role, authenticate

ALGORITHM = "HS256"
AUDIENCE = "maillage"
BEARER = {"WWW-Authenticate": "Bearer"}
_USERS = User.__table__
_RESOURCES = Resource.__table__

router = APIRouter(tags=["auth"])


@dataclass(frozen=True)
class Principal:
    """The authenticated account of a request and the resources it acts as."""

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


class LoginLimiter:
    """Moving-window limit on login attempts, per client address and per account name."""

    def __init__(self, rate: str) -> None:
        self.rate = parse(rate)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, address: str, username: str) -> bool:
        """Count one attempt; False when either key is over the limit."""
        by_address = self.limiter.hit(self.rate, "address", address)
        by_account = self.limiter.hit(self.rate, "account", username.lower())
        return by_address and by_account


def issue_token(settings: Settings, user: User) -> str:
    """A signed bearer token for ``user``, valid ``settings.token_minutes``."""
    now = datetime.now(UTC)
    claims = {
        "sub": str(user.id),
        "role": user.role,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(minutes=settings.token_minutes),
    }
    return jwt.encode(claims, settings.signing_key, algorithm=ALGORITHM)


def load_principal(engine: Engine, user_id: int) -> Principal | None:
    """The active account ``user_id`` as a principal: one or two Core reads in autocommit, as
    this runs before every authenticated request."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        user = connection.execute(select(_USERS).where(_USERS.c.id == user_id)).first()
        if user is None or not user.active:
            return None
        organization = None
        if user.site:
            site_type, _, site_id = user.site.partition("/")
            site = connection.execute(
                select(_RESOURCES.c.body).where(
                    _RESOURCES.c.resource_type == site_type, _RESOURCES.c.id == site_id
                )
            ).scalar()
            reference = ((site or {}).get("managingOrganization") or {}).get("reference")
            organization = normalise_reference(reference) if reference else None
    return Principal(
        user_id=user.id,
        email=user.email,
        role=Role(user.role),
        practitioner=user.practitioner,
        patient=user.patient,
        site=user.site,
        organization=organization,
    )


def optional_principal(request: Request) -> Principal | None:
    """The request's principal, None when anonymous; a bad or expired token is a 401."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise FHIRError(401, "expected an Authorization: Bearer token", headers=BEARER)
    settings: Settings = request.app.state.settings
    try:
        claims = jwt.decode(
            token,
            settings.signing_key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["exp", "sub", "aud"]},
        )
    except jwt.PyJWTError as error:
        raise FHIRError(401, f"invalid token: {error}", headers=BEARER) from error
    principal = load_principal(request.app.state.engine, int(claims["sub"]))
    if principal is None:
        raise FHIRError(401, "the account is no longer active", headers=BEARER)
    return principal


def required_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    """The request's principal; anonymous requests get 401."""
    if principal is None:
        raise FHIRError(401, "authentication required", headers=BEARER)
    return principal


@router.post("/auth/token")
def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> JSONResponse:
    """OAuth2 password grant: e-mail and password for a short-lived bearer token."""
    limiter: LoginLimiter = request.app.state.login_limiter
    address = request.client.host if request.client else "unknown"
    if not limiter.hit(address, form.username):
        raise FHIRError(429, "too many login attempts; try again later")
    sessions: sessionmaker[Session] = request.app.state.sessions
    with transaction(sessions) as session:
        user = authenticate(session, form.username, form.password)
    if user is None:
        raise FHIRError(401, "wrong e-mail or password", headers=BEARER)
    settings: Settings = request.app.state.settings
    body: dict[str, Any] = {
        "access_token": issue_token(settings, user),
        "token_type": "bearer",
        "expires_in": settings.token_minutes * 60,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
