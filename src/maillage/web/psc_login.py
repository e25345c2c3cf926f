"""Log in with Pro Santé Connect: ``/connexion/psc`` sends the browser to PSC, and PSC sends it
back to ``/connexion/psc/retour``, where the professional's idNat_PS is matched on an account.

Between the two, a short-lived signed cookie keeps the login's state, nonce and PKCE verifier
(never the browser's word for them). The ID token is kept in another signed cookie, so that
logging out ends the professional's session at PSC too (``id_token_hint``).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from maillage.api.deps import AppSettings, Sessions
from maillage.care.principal import PscOutcome, authenticate_psc
from maillage.config import Settings
from maillage.integrations.pro_sante_connect import (
    PendingLogin,
    ProSanteConnect,
    PscConfig,
    PscError,
)
from maillage.web.rendering import PageError, render, safe_target
from maillage.web.session import WebSession, write_session

router = APIRouter(include_in_schema=False)
logger = logging.getLogger(__name__)

LOGIN_COOKIE = "maillage_psc_login"
ID_TOKEN_COOKIE = "maillage_psc"
#: How long the round trip to PSC may take (the e-CPS app's confirmation included).
LOGIN_SECONDS = 600
#: As long as a web session (web/session.py's LIFETIME).
ID_TOKEN_SECONDS = 8 * 3600

REFUSALS = {
    PscOutcome.UNKNOWN: (
        "Aucun compte n'est rattaché à votre identifiant Pro Santé Connect. Demandez à "
        "l'administrateur du réseau de le rattacher à votre compte."
    ),
    PscOutcome.CREATED: (
        "Votre compte a été créé : il attend la validation d'un administrateur du réseau."
    ),
    PscOutcome.PENDING: "Votre compte attend encore la validation d'un administrateur du réseau.",
    PscOutcome.INACTIVE: "Ce compte est désactivé.",
}


@lru_cache(maxsize=4)
def _client(config: PscConfig) -> ProSanteConnect:
    """One client per registration, so that discovery is fetched once per process."""
    return ProSanteConnect(config)


def pro_sante_connect(settings: AppSettings) -> ProSanteConnect | None:
    """The PSC client when ``MAILLAGE_PSC_ISSUER`` is set, else None."""
    if settings.psc_issuer is None:
        return None
    assert settings.psc_client_id and settings.psc_client_cert and settings.psc_client_key
    return _client(
        PscConfig(
            issuer=settings.psc_issuer,
            client_id=settings.psc_client_id,
            client_cert=settings.psc_client_cert,
            client_key=settings.psc_client_key,
            ca_file=settings.psc_ca_file,
        )
    )


Psc = Annotated[ProSanteConnect | None, Depends(pro_sante_connect)]


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt=f"maillage.web.psc.{purpose}")


def _set_cookie(
    response: Response, settings: Settings, name: str, value: str, seconds: int, path: str
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=seconds,
        path=path,
        httponly=True,
        samesite="lax",
        secure=settings.env == "production",
    )


def _refused(request: Request, message: str, status: int) -> HTMLResponse:
    return render(request, "connexion.html", {"erreur": message, "psc": True}, status=status)


@router.get("/connexion/psc")
def psc_login(
    request: Request, settings: AppSettings, psc: Psc, suivant: str | None = None
) -> Response:
    """Send the browser to Pro Santé Connect (authorization code, PKCE, ``eidas1``)."""
    if psc is None:
        raise PageError(404, "La connexion par Pro Santé Connect n'est pas configurée.")
    try:
        url, pending = psc.start(str(request.url_for("psc_return")))
    except PscError as error:
        logger.warning("Pro Santé Connect login could not start: %s", error)
        return _refused(request, "Pro Santé Connect ne répond pas : réessayez plus tard.", 502)
    kept = {**vars(pending), "target": safe_target(suivant)}
    response = RedirectResponse(url, status_code=303)
    value = _serializer(settings, "login").dumps(kept)
    _set_cookie(response, settings, LOGIN_COOKIE, value, LOGIN_SECONDS, "/connexion/psc")
    return response


@router.get("/connexion/psc/retour", name="psc_return")
def psc_return(request: Request, settings: AppSettings, sessions: Sessions, psc: Psc) -> Response:
    """Redeem PSC's answer, match the professional's idNat_PS on an account, open a session."""
    if psc is None:
        raise PageError(404, "La connexion par Pro Santé Connect n'est pas configurée.")
    try:
        kept: dict[str, Any] = _serializer(settings, "login").loads(
            request.cookies.get(LOGIN_COOKIE, ""), max_age=LOGIN_SECONDS
        )
        pending = PendingLogin(kept["state"], kept["nonce"], kept["code_verifier"])
        target = safe_target(str(kept["target"]))
    except (BadSignature, KeyError, TypeError):
        return _refused(request, "La connexion a expiré : recommencez.", 400)
    try:
        identity = psc.finish(
            pending, str(request.url_for("psc_return")), dict(request.query_params)
        )
    except PscError as error:
        logger.warning("Pro Santé Connect login refused: %s", error)
        return _refused(request, "Pro Santé Connect n'a pas confirmé votre identité.", 401)
    outcome, account = authenticate_psc(
        sessions, identity.idnat_ps, create_pending=settings.psc_create_pending
    )
    if account is None:
        response: Response = _refused(request, REFUSALS[outcome], 403)
    else:
        response = RedirectResponse(target, status_code=303)
        write_session(request, response, WebSession.fresh(account.id))
        value = _serializer(settings, "id_token").dumps(identity.id_token)
        _set_cookie(response, settings, ID_TOKEN_COOKIE, value, ID_TOKEN_SECONDS, "/")
    response.delete_cookie(LOGIN_COOKIE, path="/connexion/psc")
    return response


def provider_logout(request: Request, response: Response, settings: Settings) -> str | None:
    """Where to send a browser that logs out after a PSC login (PSC's end of session, back to
    the login page), forgetting its ID token; None when it did not log in through PSC."""
    psc = pro_sante_connect(settings)
    cookie = request.cookies.get(ID_TOKEN_COOKIE)
    if psc is None or cookie is None:
        return None
    response.delete_cookie(ID_TOKEN_COOKIE, path="/")
    try:
        id_token = _serializer(settings, "id_token").loads(cookie, max_age=ID_TOKEN_SECONDS)
        return psc.logout_url(str(id_token), str(request.url_for("login_page")))
    except (BadSignature, PscError) as error:
        logger.warning("no logout at Pro Santé Connect: %s", error)
        return None
