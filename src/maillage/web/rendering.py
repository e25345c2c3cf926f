"""Rendering pages and the access rules every page route depends on.

Each HTML response renews the session cookie, so the CSRF token in its forms always matches.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import lru_cache
from importlib.resources import files
from inspect import isawaitable
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from maillage import french_format
from maillage.care.principal import Principal, Role
from maillage.config import Settings
from maillage.web.navigation import ROLE_LABELS, menu
from maillage.web.session import CSRFError, current_principal, read_session, write_session

#: Pages load only their own assets (a second guard, after the build, against any CDN) and
#: cannot be framed. Inline style attributes stay allowed for the map legend's colours.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@lru_cache(maxsize=4)
def _with_provider(origin: str) -> dict[str, str]:
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    allowed = policy.replace("form-action 'self'", f"form-action 'self' {origin}")
    return SECURITY_HEADERS | {"Content-Security-Policy": allowed}


def security_headers(settings: Settings) -> dict[str, str]:
    """The pages' headers; with Pro Santé Connect, its origin may end a form's redirects (the
    logout goes on to the provider's end of session)."""
    if settings.psc_issuer is None:
        return SECURITY_HEADERS
    parts = urlsplit(settings.psc_issuer)
    return _with_provider(f"{parts.scheme}://{parts.netloc}")


templates = Jinja2Templates(directory=str(files("maillage.web") / "templates"))


templates.env.filters["nombre"] = french_format.fixed


class LoginRequired(Exception):
    """An anonymous request for a page that needs an account: sent to the login page."""


class PageError(Exception):
    """A refusal or absence shown as a French error page with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """``template`` with the menu, account and CSRF token every page needs."""
    session = read_session(request)
    principal = current_principal(request)
    page_context = {
        "principal": principal,
        "role_label": ROLE_LABELS[principal.role] if principal else None,
        "menu": menu(principal.role) if principal else [],
        "csrf_token": session.csrf,
        **(context or {}),
    }
    response = templates.TemplateResponse(
        request, template, page_context, status_code=status, headers=headers
    )
    response.headers.update(security_headers(request.app.state.settings))
    write_session(request, response, session)
    return response


def safe_target(target: str | None) -> str:
    """Where to go after login: a path of this site only (no open redirect to another host)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def signed_in(request: Request) -> Principal:
    """The page's account; anonymous visitors are sent to log in."""
    principal = current_principal(request)
    if principal is None:
        raise LoginRequired
    return principal


def allowed(roles: frozenset[Role]) -> Callable[[Request], Principal]:
    """A dependency admitting only ``roles`` (the same sets as the menu's)."""

    def dependency(request: Request) -> Principal:
        principal = signed_in(request)
        if principal.role not in roles:
            raise PageError(403, "Cette page n'est pas accessible avec votre rôle.")
        return principal

    return dependency


async def _login_required(request: Request, _error: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": "/connexion"})
    return RedirectResponse(f"/connexion?{urlencode({'suivant': target})}", status_code=303)


async def _page_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, PageError)
    return render(request, "erreur.html", {"message": error.message}, status=error.status)


async def _csrf_error(request: Request, _error: Exception) -> Response:
    message = "Le formulaire a expiré ou ne vient pas de cette application : rechargez la page."
    return render(request, "erreur.html", {"message": message}, status=403)


#: What a browser's reader is told, per status, when a request fails outside a page's own
#: refusals (an unknown address, a malformed query, a fault of the server).
STATUS_MESSAGES = {
    400: "La demande est mal formée.",
    401: "Connectez-vous pour continuer.",
    403: "Cette page n'est pas accessible avec votre compte.",
    404: "Cette page n'existe pas : vérifiez l'adresse ou revenez à l'accueil.",
    405: "Cette action n'est pas possible sur cette page.",
    409: "L'opération est en conflit avec une modification récente : rechargez la page.",
    413: "Le fichier ou le formulaire envoyé est trop volumineux.",
    422: "Un champ du formulaire ou de l'adresse n'est pas valable.",
    429: "Trop de demandes en peu de temps : patientez un instant puis recommencez.",
    500: "Une erreur interne est survenue ; elle a été consignée pour l'équipe technique.",
    503: "Le service est momentanément indisponible : recommencez dans un instant.",
}
#: Paths of machine clients, which keep their FHIR OperationOutcome whatever they accept.
MACHINE_PATHS = ("/fhir", "/api", "/auth", "/static", "/.well-known")


def wants_page(request: Request) -> bool:
    """Whether a failed request came from a browser reading pages (it gets a French page)."""
    if request.url.path.startswith(MACHINE_PATHS):
        return False
    return "text/html" in request.headers.get("accept", "")


Handler = Callable[[Request, Any], Response | Awaitable[Response]]


async def _answer(handler: Handler, request: Request, error: Exception) -> Response:
    answer = handler(request, error)
    return await answer if isawaitable(answer) else answer


def html_for_browsers(handler: Handler, default: int) -> Handler:
    """``handler`` (the API's), except that a browser gets the French error page instead."""

    async def answer(request: Request, error: Exception) -> Response:
        if not wants_page(request):
            return await _answer(handler, request, error)
        status = getattr(error, "status_code", default)
        message = STATUS_MESSAGES.get(status, STATUS_MESSAGES[default])
        if status >= 500:
            await _answer(handler, request, error)  # the API's handler logs the fault
        return render(request, "erreur.html", {"message": message}, status=status)

    return answer


EXCEPTION_HANDLERS = {
    LoginRequired: _login_required,
    PageError: _page_error,
    CSRFError: _csrf_error,
}
