"""Login, session cookie, CSRF and role-aware navigation, through the HTTP interface."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import update
from web_site import PASSWORD, Site, csrf_of, make_site

from maillage.jobs.queue import JobSettings
from maillage.store.database import transaction
from maillage.store.models import User
from maillage.store.users import Role
from maillage.web.session import COOKIE


def test_anonymous_visitors_are_sent_to_the_login_page(site: Site) -> None:
    response = site.client().get("/carte", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/connexion?suivant=%2Fcarte"


def test_pages_are_french_and_load_nothing_from_elsewhere(site: Site) -> None:
    page = site.client().get("/connexion")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert '<html lang="fr">' in page.text
    assert '<label for="email">Adresse électronique</label>' in page.text


def test_session_cookie_is_httponly_and_lax_and_not_secure_in_development(site: Site) -> None:
    cookie = site.client().get("/connexion").headers["set-cookie"].lower()
    assert cookie.startswith(f"{COOKIE}=")
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie


def test_session_cookie_is_secure_in_production(tmp_path: Path) -> None:
    built = make_site(tmp_path, JobSettings(redis_url="redis://127.0.0.1:1/0"), env="production")
    cookie = built.client().get("/connexion").headers["set-cookie"].lower()
    assert "; secure" in cookie
    built.app.state.engine.dispose()


def test_login_opens_a_session_with_a_new_csrf_token(site: Site) -> None:
    client = site.client()
    email = site.user("planner")
    before = csrf_of(client.get("/connexion").text)
    form = {"email": email, "password": PASSWORD, "csrf_token": before, "suivant": "/carte"}
    response = client.post("/connexion", data=form, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/carte")
    home = client.get("/")
    assert email in home.text
    assert csrf_of(home.text) != before


@pytest.mark.parametrize("token", [None, "forged"])
def test_a_form_without_the_session_token_is_refused(site: Site, token: str | None) -> None:
    client = site.client()
    client.get("/connexion")
    form = {"email": site.user("planner"), "password": PASSWORD}
    if token:
        form["csrf_token"] = token
    response = client.post("/connexion", data=form, follow_redirects=False)
    assert response.status_code == 403
    assert "formulaire a expiré" in response.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_wrong_password_is_refused_in_french(site: Site) -> None:
    client = site.client()
    token = csrf_of(client.get("/connexion").text)
    form = {"email": site.user("planner"), "password": "not it at all", "csrf_token": token}
    response = client.post("/connexion", data=form)
    assert response.status_code == 401
    assert "mot de passe incorrect" in response.text


def test_login_attempts_are_rate_limited(tmp_path: Path) -> None:
    jobs = JobSettings(redis_url="redis://127.0.0.1:1/0")
    built = make_site(tmp_path, jobs, login_rate_limit="2/minute")
    client = built.client()
    token = csrf_of(client.get("/connexion").text)
    form = {"email": "who@example.org", "password": "guess guess guess", "csrf_token": token}
    statuses = [client.post("/connexion", data=form).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    built.app.state.engine.dispose()


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil"])
def test_login_never_redirects_off_site(site: Site, target: str) -> None:
    client = site.client()
    token = csrf_of(client.get("/connexion").text)
    form = {"email": site.user("planner"), "password": PASSWORD, "csrf_token": token}
    response = client.post("/connexion", data=form | {"suivant": target}, follow_redirects=False)
    assert response.headers["location"] == "/"


def test_logout_needs_the_token_and_ends_the_session(site: Site) -> None:
    client = site.logged_in("planner")
    assert client.post("/deconnexion", data={}).status_code == 403
    token = csrf_of(client.get("/").text)
    response = client.post("/deconnexion", data={"csrf_token": token}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/connexion")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_tampered_cookie_is_anonymous(site: Site) -> None:
    client = site.logged_in("admin")
    (cookie,) = (c for c in client.cookies.jar if c.name == COOKIE)
    value = cookie.value or ""
    tampered = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    # Over the server's own cookie (same domain and path): a second cookie of the same name
    # would be sent beside it, and the untouched one would still sign the client in.
    client.cookies.set(COOKIE, tampered, domain=cookie.domain, path=cookie.path)
    assert client.cookies[COOKIE] == tampered
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_deactivated_account_loses_its_session_at_once(site: Site) -> None:
    client = site.logged_in("planner")
    assert client.get("/carte").status_code == 200
    with transaction(site.app.state.sessions) as session:
        session.execute(update(User).values(active=False))
    assert client.get("/carte", follow_redirects=False).status_code == 303


ANALYST_MENU = (
    "/",
    "/carte",
    "/diagnostics/nouveau",
    "/plans/nouveau",
    "/jeux-de-donnees",
    "/sites",
    "/reseau",
    "/projets",
)
#: Each role's menu, written out rather than read from ``navigation.PAGES``, so that a page
#: given to the wrong role fails here.
MENUS = {
    Role.ADMIN: (*ANALYST_MENU, "/disponibilites", "/patients", "/admin/comptes", "/journal"),
    Role.COORDINATOR: (*ANALYST_MENU, "/disponibilites", "/patients"),
    Role.PLANNER: ANALYST_MENU,
    Role.SITE_PROFESSIONAL: (
        "/",
        "/teleconsultations/nouvelle",
        "/site/rendez-vous",
        "/identites",
        "/teleexpertises/demandees",
        "/patients",
    ),
    Role.PRACTITIONER: (
        "/",
        "/consultations",
        "/teleexpertises",
        "/teleexpertises/demandees",
        "/disponibilites",
        "/patients",
    ),
    Role.PATIENT: ("/", "/mon-espace"),
    Role.DPO: ("/", "/journal"),
}
EVERY_PAGE = sorted({path for menu in MENUS.values() for path in menu})


@pytest.mark.parametrize("role", list(Role))
def test_each_role_sees_and_reaches_only_its_pages(site: Site, role: Role) -> None:
    client = site.logged_in(role.value)
    home = client.get("/")
    nav = home.text[home.text.index('<nav aria-label="Navigation principale">') :]
    menu = re.findall(r'<li><a href="([^"]+)"', nav[: nav.index("</nav>")])
    assert tuple(menu) == MENUS[role]
    for path in EVERY_PAGE:
        response = client.get(path)
        assert response.status_code == (200 if path in MENUS[role] else 403), path
        if response.status_code == 403:
            assert "pas accessible avec votre rôle" in response.text, path


def test_a_cookie_replayed_after_logout_signs_nobody_in(site: Site) -> None:
    client = site.logged_in("planner")
    stolen = client.cookies.get(COOKIE)
    token = csrf_of(client.get("/").text)
    client.post("/deconnexion", data={"csrf_token": token}, follow_redirects=False)
    replay = site.client()
    replay.cookies.set(COOKIE, stolen)
    assert replay.get("/", follow_redirects=False).status_code == 303
    assert replay.get("/", follow_redirects=False).headers["location"].startswith("/connexion")
