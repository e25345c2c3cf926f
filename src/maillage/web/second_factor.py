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

from maillage.api.deps import AppSettings, ClientAddress, LoginLimits, Sessions
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
_TOO_MANY = "Trop de tentatives : réessayez dans quelques minutes."


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


@dataclass(frozen=True)
class CodeGiven:
    """A code typed on a page, the account it is for and the client's address."""

    user_id: int
    code: str
    address: str


@dataclass(frozen=True)
class LoginCode(CodeGiven):
    """A code typed at login: where the login goes next, and whether the login limits allow
    this try (counted like a password's)."""

    target: str
    allowed: bool


def login_code(
    login: Annotated[Pending, Depends(pending)],
    limiter: LoginLimits,
    address: ClientAddress,
    form: Annotated[FormData, Depends(checked_form)],
) -> LoginCode:
    """The code of the login waiting for its second factor, counted as one try."""
    allowed = limiter.hit(address, f"second-factor:{login.user_id}")
    code = str(form.get("code", ""))
    return LoginCode(login.user_id, code, address, login.target, allowed)


def account_code(
    principal: Annotated[Principal, Depends(signed_in)],
    address: ClientAddress,
    form: Annotated[FormData, Depends(checked_form)],
) -> CodeGiven:
    """The code the signed-in account typed on its own page."""
    return CodeGiven(principal.user_id, str(form.get("code", "")), address)


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
    given: Annotated[LoginCode, Depends(login_code)],
) -> Response:
    """Check the code (or a recovery code) and open the session."""
    if not given.allowed:
        return render(request, "connexion_code.html", {"erreur": _TOO_MANY}, status=429)
    if not second_factor.check(
        sessions, settings, given.user_id, given.code, address=given.address
    ):
        return render(request, "connexion_code.html", {"erreur": _WRONG}, status=401)
    response = RedirectResponse(given.target, status_code=303)
    _finished(request, response, given.user_id)
    return response


def _enrolment(sessions: Sessions, settings: Settings, user_id: int) -> dict[str, Any]:
    enrolment = second_factor.begin(sessions, settings, user_id)
    return {"qr": enrolment.qr, "secret": enrolment.secret}


def _confirmed(
    request: Request, sessions: Sessions, settings: Settings, given: CodeGiven, **page: Any
) -> list[str] | HTMLResponse:
    """The recovery codes of the enrolment the code confirms; a wrong code: the enrolment page
    again (with ``page``'s entries) and the error."""
    try:
        return second_factor.confirm(
            sessions, settings, given.user_id, given.code, address=given.address
        )
    except second_factor.InvalidCode:
        context = {**_enrolment(sessions, settings, given.user_id), **page, "erreur": _WRONG}
        return render(request, "double_authentification.html", context, 400)


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
    given: Annotated[LoginCode, Depends(login_code)],
) -> Response:
    if not given.allowed:
        raise PageError(429, _TOO_MANY)
    codes = _confirmed(request, sessions, settings, given, a_la_connexion=True)
    if isinstance(codes, HTMLResponse):
        return codes
    _signed_in(request, given.user_id)
    response = render(request, "codes_de_secours.html", {"codes": codes, "suite": given.target})
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
    given: Annotated[CodeGiven, Depends(account_code)],
) -> HTMLResponse:
    codes = _confirmed(request, sessions, settings, given)
    if isinstance(codes, HTMLResponse):
        return codes
    return render(request, "codes_de_secours.html", {"codes": codes, "suite": "/"})


@router.post(f"{ACCOUNT_PAGE}/retrait", response_class=HTMLResponse)
def account_withdraw(
    request: Request,
    sessions: Sessions,
    settings: AppSettings,
    given: Annotated[CodeGiven, Depends(account_code)],
) -> Response:
    try:
        second_factor.withdraw(sessions, settings, given.user_id, given.code, address=given.address)
    except Forbidden as error:
        raise PageError(403, "Votre rôle impose la double authentification.") from error
    except second_factor.InvalidCode:
        context = {"active": True, "obligatoire": False, "erreur": _WRONG}
        return render(request, "double_authentification.html", context, 400)
    return RedirectResponse(ACCOUNT_PAGE, status_code=303)
