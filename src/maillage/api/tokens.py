"""``POST /auth/token``: the OAuth2 password grant, rate-limited per address and per account.

An account with a second factor also sends its current TOTP code (or a recovery code) in the
form field ``totp``; an account whose role requires one and has none enrols on the pages
first (403).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm

from maillage.api.auth import issue_token
from maillage.api.deps import AppSettings, ClientAddress, LoginLimits, Sessions
from maillage.api.errors import FHIRError
from maillage.care import second_factor
from maillage.care.errors import Forbidden, Unauthenticated
from maillage.care.principal import authenticate

router = APIRouter(tags=["auth"])


@router.post("/auth/token")
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    settings: AppSettings,
    sessions: Sessions,
    limiter: LoginLimits,
    address: ClientAddress,
    totp: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    """E-mail and password (and TOTP code) for a short-lived bearer token."""
    if not limiter.hit(address, form.username):
        raise FHIRError(429, "too many login attempts; try again later")
    user = authenticate(
        sessions,
        form.username,
        form.password,
        professionals_by_password=settings.professionals_password_login,
    )
    if user is None:
        raise Unauthenticated("wrong e-mail or password")
    step = second_factor.step_after_password(sessions, settings, user.id)
    if step is second_factor.Step.ENROL:
        raise Forbidden("this account must enrol a second factor first, on the pages")
    if step is second_factor.Step.CODE and not (
        totp and second_factor.check(sessions, settings, user.id, totp, address=address)
    ):
        raise Unauthenticated("this account needs its current TOTP code (form field 'totp')")
    body: dict[str, Any] = {
        "access_token": issue_token(settings, user),
        "token_type": "bearer",
        "expires_in": settings.token_minutes * 60,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
