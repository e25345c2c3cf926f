"""OAuth2 password flow issuing short-lived HS256 JWTs, and the principal behind each request.

Login is rate-limited with the ``limits`` library (moving window, in Redis or, in development,
process memory) per client address and per account + address pair, so no address can guess a
password quickly and nobody can lock an account's owner out.
The account behind a bearer token is re-read from the database when its last reading is older
than ``MAILLAGE_PRINCIPAL_CACHE_SECONDS`` (2 s): a deactivated account or a changed role takes
effect within those seconds, not when the token expires. (Reading it on every request was a
third of a slot search's CPU.) The pages' sessions re-read it on every request.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from limits import RateLimitItemPerDay, RateLimitItemPerHour, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from maillage.care.errors import Unauthenticated
from maillage.care.principal import Account, Principal, load_principal, load_principal_async
from maillage.config import Settings

ALGORITHM = "HS256"
AUDIENCE = "maillage"


class LoginLimiter:
    """Moving-window limits on login attempts, per client address and per account + address pair.

    An account is never locked for everyone: a stranger failing the owner's password only slows
    down that stranger's own address, and the owner, from another address, logs in as usual.
    Each pair meets growing delays (the configured rate, then ten times it per hour, then twenty
    times it per day), so a slow guesser gets few tries without any CAPTCHA. The counters live
    in ``storage_url`` (Redis when several worker processes must share them).
    """

    def __init__(self, rate: str, storage_url: str = "memory://") -> None:
        self.rate = parse(rate)
        self.pair_rates = [
            self.rate,
            RateLimitItemPerHour(self.rate.amount * 10),
            RateLimitItemPerDay(self.rate.amount * 20),
        ]
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_url))

    def hit(self, address: str, username: str) -> bool:
        """Count one attempt; False when the address or the pair is over a limit."""
        pair = (username.lower(), address)
        allowed = self.limiter.hit(self.rate, "address", address)
        for rate in self.pair_rates:
            allowed = self.limiter.hit(rate, "pair", *pair) and allowed
        return allowed


def issue_token(settings: Settings, user: Account) -> str:
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


@lru_cache(maxsize=4096)
def _verified(token: str, key: str) -> dict[str, Any]:
    """The claims of a token whose signature, audience and expiry were checked, remembered:
    a client sends the same token with every request, and checking the signature was a tenth
    of a slot search's CPU. (Expiry is checked again on each use.)"""
    return jwt.decode(
        token,
        key,
        algorithms=[ALGORITHM],
        audience=AUDIENCE,
        options={"require": ["exp", "sub", "aud"]},
    )


class Principals:
    """The principals of the accounts seen lately, each read again once older than
    ``seconds`` (0: on every request). One per server process."""

    def __init__(self, engine: Engine, seconds: float) -> None:
        self.engine, self.seconds = engine, seconds
        self._read: dict[int, tuple[float, Principal | None]] = {}

    def fresh(self, user_id: int) -> tuple[bool, Principal | None]:
        """(True, the principal or None when inactive) if read lately, else (False, None)."""
        read_at, principal = self._read.get(user_id, (0.0, None))
        return time.monotonic() - read_at < self.seconds, principal

    def load(self, user_id: int) -> Principal | None:
        """Read the account now (and remember it)."""
        return self._remember(user_id, load_principal(self.engine, user_id))

    async def load_async(self, pool: AsyncConnectionPool, user_id: int) -> Principal | None:
        """:meth:`load` on the asynchronous pool (PostgreSQL), from the event loop."""
        return self._remember(user_id, await load_principal_async(pool, user_id))

    def _remember(self, user_id: int, principal: Principal | None) -> Principal | None:
        self._read[user_id] = (time.monotonic(), principal)
        return principal


def _bearer_user(request: Request) -> int | None:
    """The account id of the request's bearer token, None when anonymous; a bad or expired
    token is a 401."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("expected an Authorization: Bearer token")
    settings: Settings = request.app.state.settings
    try:
        claims = _verified(token, settings.signing_key)
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"invalid token: {error}") from error
    if claims["exp"] <= time.time():
        raise Unauthenticated("invalid token: Signature has expired")
    subject = claims["sub"]
    if not (isinstance(subject, str) and subject.isascii() and subject.isdigit()):
        raise Unauthenticated("invalid token: its subject is not an account")
    return int(subject)


def _active(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthenticated("the account is no longer active")
    return principal


async def optional_principal_async(request: Request) -> Principal | None:
    """The request's principal, None when anonymous; a bad or expired token is a 401. A
    principal read lately costs no read; the others are read on the asynchronous pool when the
    server has one (PostgreSQL), else in a worker thread."""
    user_id = _bearer_user(request)
    if user_id is None:
        return None
    principals: Principals = request.app.state.principals
    known, principal = principals.fresh(user_id)
    if not known:
        pool: AsyncConnectionPool | None = request.app.state.reads
        if pool is not None:
            principal = await principals.load_async(pool, user_id)
        else:
            principal = await run_in_threadpool(principals.load, user_id)
    return _active(principal)


async def required_principal(
    principal: Annotated[Principal | None, Depends(optional_principal_async)],
) -> Principal:
    """The request's principal; anonymous requests get 401."""
    if principal is None:
        raise Unauthenticated("authentication required")
    return principal
