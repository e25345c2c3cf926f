"""Log in, log out and the home page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage.api.deps import AppSettings, ClientAddress, LoginLimits, Sessions
from maillage.care import second_factor
from maillage.care.errors import Forbidden
from maillage.care.principal import Principal, authenticate
from maillage.care.second_factor import Step
from maillage.config import Settings
from maillage.web.psc_login import provider_logout
from maillage.web.rendering import render, safe_target, signed_in
from maillage.web.second_factor import start as pending_second_factor
from maillage.web.session import WebSession, checked_form, end_session, write_session

router = APIRouter(include_in_schema=False)


@router.get("/connexion", response_class=HTMLResponse)
def login_page(request: Request, settings: AppSettings, suivant: str | None = None) -> HTMLResponse:
    return _page(request, settings, {"suivant": safe_target(suivant)})


def _page(
    request: Request, settings: Settings, context: dict[str, str], status: int = 200
) -> HTMLResponse:
    """The login page, with the Pro Santé Connect button when PSC is configured."""
    psc = settings.psc_issuer is not None
    return render(request, "connexion.html", {**context, "psc": psc}, status=status)


@router.post("/connexion", response_class=HTMLResponse)
def login(
    request: Request,
    sessions: Sessions,
    settings: AppSettings,
    limiter: LoginLimits,
    address: ClientAddress,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Check the password (rate-limited like the API's token endpoint) and open a session."""
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    target = safe_target(str(form.get("suivant", "")))
    if not limiter.hit(address, email):
        error = "Trop de tentatives de connexion : réessayez dans quelques minutes."
        return _page(request, settings, {"erreur": error, "email": email}, status=429)
    try:
        user = authenticate(
            sessions,
            email,
            password,
            professionals_by_password=settings.professionals_password_login,
        )
    except Forbidden:
        error = (
            "Les professionnels de santé se connectent avec Pro Santé Connect (e-CPS ou carte CPS)."
        )
        return _page(request, settings, {"erreur": error, "email": email}, status=403)
    user_id = user.id if user else None
    if user_id is None:
        error = "Adresse électronique ou mot de passe incorrect."
        context = {"erreur": error, "email": email, "suivant": target}
        return _page(request, settings, context, status=401)
    step = second_factor.step_after_password(sessions, settings, user_id)
    if step is not Step.NONE:
        then = "/connexion/code" if step is Step.CODE else "/connexion/activation"
        response = RedirectResponse(then, status_code=303)
        pending_second_factor(settings, response, user_id, target)
        return response
    response = RedirectResponse(target, status_code=303)
    write_session(request, response, WebSession.fresh(user_id))
    return response


@router.post("/deconnexion")
def logout(
    request: Request, settings: AppSettings, _form: Annotated[FormData, Depends(checked_form)]
) -> Response:
    """End the session here, then at Pro Santé Connect when it was opened through it."""
    end_session(request)
    response = RedirectResponse("/connexion", status_code=303)
    at_provider = provider_logout(request, response, settings)
    if at_provider is not None:
        response.headers["Location"] = at_provider
    write_session(request, response, WebSession.fresh())
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, _principal: Annotated[Principal, Depends(signed_in)]) -> HTMLResponse:
    return render(request, "accueil.html")
