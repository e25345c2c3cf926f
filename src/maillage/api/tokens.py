"""``POST /auth/token``: the OAuth2 password grant, rate-limited per address and per account."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm

from maillage.api.auth import LoginLimiter, issue_token
from maillage.api.deps import AppSettings, Sessions, login_limiter
from maillage.api.errors import FHIRError
from maillage.care.errors import Unauthenticated
from maillage.care.principal import authenticate

router = APIRouter(tags=["auth"])


@router.post("/auth/token")
def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    settings: AppSettings,
    sessions: Sessions,
    limiter: Annotated[LoginLimiter, Depends(login_limiter)],
) -> JSONResponse:
    """E-mail and password for a short-lived bearer token."""
    address = request.client.host if request.client else "unknown"
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
    body: dict[str, Any] = {
        "access_token": issue_token(settings, user),
        "token_type": "bearer",
        "expires_in": settings.token_minutes * 60,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
