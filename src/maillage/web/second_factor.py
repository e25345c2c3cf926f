"""The second factor on the pages: the login's code step, enrolment at login when the role
requires it, and each account's own page to add or withdraw it.

Between the right password and the code, the browser holds only a short-lived signed cookie
naming the account (:data:`PENDING_COOKIE`, five minutes): no session is open yet. Code tries
count against the same login limits as passwords.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData

from maillage.api.auth import LoginLimiter
from maillage.api.deps import AppSettings, Sessions, login_limiter
from maillage.care import second_factor
from maillage.care.errors import Forbidden
from maillage.care.principal import Principal
from maillage.config import Settings
from maillage.web.rendering import PageError, render, signed_in
from maillage.web.session import WebSession, checked_form, write_session

router = APIRouter(include_in_schema=False)

PENDING_COOKIE = "maillage_second_factor"
PENDING_SECONDS = 300
ACCOUNT_PAGE = "/compte/double-authentification"
_WRONG = "Code incorrect ou expiré : saisissez le code affiché maintenant par l'application."


@dataclass(frozen=True)
class Pending:
    """A login whose password was right, waiting for its second factor."""

    user_id: int
    target: str


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt="maillage.web.second-factor")


def start(settings: Settings, response: Response, user_id: int, target: str) -> None:
    """Remember on ``response`` that ``user_id`` gave the right password (five minutes)."""
    response.set_cookie(
        PENDING_COOKIE,
        _serializer(settings).dumps({"uid": user_id, "to": target}),
        max_age=PENDING_SECONDS,
        path="/connexion",
        httponly=True,
        samesite="strict",
        secure=settings.env == "production",
    )


def pending(request: Request, settings: AppSettings) -> Pending:
    """The login waiting for its second factor; without one, back to the password."""
    cookie = request.cookies.get(PENDING_COOKIE)
    try:
        data = _serializer(settings).loads(cookie or "", max_age=PENDING_SECONDS)
        return Pending(int(data["uid"]), str(data["to"]))
    except (BadSignature, KeyError, TypeError, ValueError):
        message = "Reprenez la connexion : saisissez d'abord votre mot de passe."
        raise PageError(401, message) from None


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _signed_in(request: Request, user_id: int) -> None:
    """Open the session the pages after this one will carry (written by ``render``)."""
    request.state.web_session = WebSession.fresh(user_id)


def _finished(request: Request, response: Response, user_id: int) -> None:
    write_session(request, response, WebSession.fresh(user_id))
    response.delete_cookie(PENDING_COOKIE, path="/connexion")


@router.get("/connexion/code", response_class=HTMLResponse)
def code_page(request: Request, _login: Annotated[Pending, Depends(pending)]) -> HTMLResponse:
    return render(request, "connexion_code.html")


@router.post("/connexion/code", response_class=HTMLResponse)
def code_given(
    request: Request,
    sessions: Sessions,
    settings: AppSettings,
    limiter: Annotated[LoginLimiter, Depends(login_limiter)],
    login: Annotated[Pending, Depends(pending)],
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Check the code (or a recovery code) and open the session."""
    address = _address(request)
    if not limiter.hit(address, f"second-factor:{login.user_id}"):
        error = "Trop de tentatives : réessayez dans quelques minutes."
        return render(request, "connexion_code.html", {"erreur": error}, status=429)
    code = str(form.get("code", ""))
    if not second_factor.check(sessions, settings, login.user_id, code, address=address):
        return render(request, "connexion_code.html", {"erreur": _WRONG}, status=401)
    response = RedirectResponse(login.target, status_code=303)
    _finished(request, response, login.user_id)
    return response


def _enrolment(sessions: Sessions, settings: Settings, user_id: int) -> dict[str, Any]:
    enrolment = second_factor.begin(sessions, settings, user_id)
    return {"qr": enrolment.qr, "secret": enrolment.secret}


@router.get("/connexion/activation", response_class=HTMLResponse)
def enrol_at_login(
    request: Request,
    sessions: Sessions,
    settings: AppSettings,
    login: Annotated[Pending, Depends(pending)],
) -> HTMLResponse:
    """A role that must have a second factor enrols it before its first session."""
    context = _enrolment(sessions, settings, login.user_id)
    return render(request, "double_authentification.html", {**context, "a_la_connexion": True})


@router.post("/connexion/activation", response_class=HTMLResponse)
def confirm_at_login(
    request: Request,
    sessions: Sessions,
    settings: AppSettings,
    limiter: Annotated[LoginLimiter, Depends(login_limiter)],
    login: Annotated[Pending, Depends(pending)],
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    address = _address(request)
    if not limiter.hit(address, f"second-factor:{login.user_id}"):
        raise PageError(429, "Trop de tentatives : réessayez dans quelques minutes.")
    try:
        codes = second_factor.confirm(
            sessions, settings, login.user_id, str(form.get("code", "")), address=address
        )
    except second_factor.InvalidCode:
        context = {**_enrolment(sessions, settings, login.user_id), "a_la_connexion": True}
        return render(request, "double_authentification.html", {**context, "erreur": _WRONG}, 400)
    _signed_in(request, login.user_id)
    response = render(request, "codes_de_secours.html", {"codes": codes, "suite": login.target})
    response.delete_cookie(PENDING_COOKIE, path="/connexion")
    return response


@router.get(ACCOUNT_PAGE, response_class=HTMLResponse)
def account_page(
    request: Request,
    sessions: Sessions,
    settings: AppSettings,
    principal: Annotated[Principal, Depends(signed_in)],
) -> HTMLResponse:
    """Enrolled: the state and how to withdraw it; else a new secret to enrol."""
    if second_factor.enrolled(sessions, principal.user_id):
        context = {
            "active": True,
            "obligatoire": second_factor.required(principal.role.value, settings),
        }
    else:
        context = _enrolment(sessions, settings, principal.user_id)
    return render(request, "double_authentification.html", context)


@router.post(f"{ACCOUNT_PAGE}/activation", response_class=HTMLResponse)
def account_confirm(
    request: Request,
    sessions: Sessions,
    settings: AppSettings,
    principal: Annotated[Principal, Depends(signed_in)],
    form: Annotated[FormData, Depends(checked_form)],
) -> HTMLResponse:
    try:
        codes = second_factor.confirm(
            sessions,
            settings,
            principal.user_id,
            str(form.get("code", "")),
            address=_address(request),
        )
    except second_factor.InvalidCode:
        context = {**_enrolment(sessions, settings, principal.user_id), "erreur": _WRONG}
        return render(request, "double_authentification.html", context, 400)
    return render(request, "codes_de_secours.html", {"codes": codes, "suite": "/"})


@router.post(f"{ACCOUNT_PAGE}/retrait", response_class=HTMLResponse)
def account_withdraw(
    request: Request,
    sessions: Sessions,
    settings: AppSettings,
    principal: Annotated[Principal, Depends(signed_in)],
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    try:
        second_factor.withdraw(
            sessions,
            settings,
            principal.user_id,
            str(form.get("code", "")),
            address=_address(request),
        )
    except Forbidden as error:
        raise PageError(403, "Votre rôle impose la double authentification.") from error
    except second_factor.InvalidCode:
        context = {"active": True, "obligatoire": False, "erreur": _WRONG}
        return render(request, "double_authentification.html", context, 400)
    return RedirectResponse(ACCOUNT_PAGE, status_code=303)
