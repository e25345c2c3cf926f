"""The browser session: a signed cookie carrying the account id and a CSRF token.

Pages use a cookie rather than the API's bearer tokens because a browser sends it by itself;
that is exactly why every state-changing form also carries the session's CSRF token
(synchronizer-token pattern), checked before the form is acted on. The cookie is HttpOnly,
SameSite=Lax and, in production, Secure. The account is re-read on every request (through the
API's own principal loader), so a deactivated account or a changed role takes effect at once.
A logged-in cookie also names a server-side session (web/session_store.py), closed at logout.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData

from maillage.care.principal import Principal, load_principal
from maillage.config import Settings
from maillage.web.session_store import SessionStore

COOKIE = "maillage_session"
#: A working day; every page view renews it.
LIFETIME = timedelta(hours=8)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class CSRFError(Exception):
    """A state-changing request without the session's CSRF token."""


@dataclass(frozen=True)
class WebSession:
    """What the cookie holds: the CSRF token and, once logged in, the account id."""

    csrf: str
    user_id: int | None = None
    session_id: str | None = None

    @classmethod
    def fresh(cls, user_id: int | None = None) -> WebSession:
        """A new session with a new CSRF token (at login too: no fixation of an old one) and,
        when logged in, a new server-side session id."""
        session_id = secrets.token_urlsafe(32) if user_id is not None else None
        return cls(csrf=secrets.token_urlsafe(32), user_id=user_id, session_id=session_id)


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt="maillage.web.session")


def read_session(request: Request) -> WebSession:
    """The request's session; a missing, forged or expired cookie gives a fresh anonymous one."""
    cached: WebSession | None = getattr(request.state, "web_session", None)
    if cached is not None:
        return cached
    settings: Settings = request.app.state.settings
    session = WebSession.fresh()
    cookie = request.cookies.get(COOKIE)
    if cookie:
        try:
            data = _serializer(settings).loads(cookie, max_age=int(LIFETIME.total_seconds()))
            session = WebSession(csrf=str(data["csrf"]), user_id=data.get("uid"))
            sid = data.get("sid")
            if (
                session.user_id is not None
                and isinstance(sid, str)
                and _store(request).is_open(sid)
            ):
                session = WebSession(csrf=session.csrf, user_id=session.user_id, session_id=sid)
            else:  # logged out (or never kept): the cookie signs nobody in
                session = WebSession(csrf=session.csrf)
        except (BadSignature, KeyError, TypeError):
            pass
    request.state.web_session = session
    return session


def _store(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.web_sessions
    return store


def write_session(request: Request, response: Response, session: WebSession) -> None:
    """Set (or renew) the cookie on ``response``, and keep its server-side session open."""
    settings: Settings = request.app.state.settings
    if session.session_id is not None:
        _store(request).keep(session.session_id, int(LIFETIME.total_seconds()))
    payload = {"csrf": session.csrf, "uid": session.user_id, "sid": session.session_id}
    response.set_cookie(
        COOKIE,
        _serializer(settings).dumps(payload),
        max_age=int(LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.env == "production",
    )


def end_session(request: Request) -> None:
    """Close the request's server-side session: its cookie, even replayed, signs nobody in."""
    session_id = read_session(request).session_id
    if session_id is not None:
        _store(request).close(session_id)


def current_principal(request: Request) -> Principal | None:
    """The logged-in, still active account of the request, or None (read once per request)."""
    if hasattr(request.state, "web_principal"):
        return request.state.web_principal
    session = read_session(request)
    principal = None
    if session.user_id is not None:
        principal = load_principal(request.app.state.engine, int(session.user_id))
    request.state.web_principal = principal
    return principal


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token (field or htmx header) matches the session's."""
    form = await request.form()
    check_csrf(request, form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or "")
    return form


def check_csrf(request: Request, sent: object) -> None:
    """Raise :class:`CSRFError` unless ``sent`` is the session's CSRF token."""
    expected = read_session(request).csrf
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CSRFError
