"""Administration of the accounts (``/admin/comptes``): an admin creates, links, changes,
deactivates and resets accounts; each change is in the audit trail; the owner sets a password
through a link that works once; nobody else reaches the pages."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from web_site import PASSWORD, Site, csrf_of, location, login, store

from maillage.care.audit import USER_SYSTEM
from maillage.store import audit
from maillage.store.database import transaction
from maillage.store.models import Resource, User

NEW_PASSWORD = "un mot de passe tout neuf"
LINK = re.compile(r'id="lien" type="text" readonly value="([^"]+)"')


@pytest.fixture
def site(site_on_each_database: Site) -> Site:
    """This module's page tests run on SQLite and on PostgreSQL."""
    store(site_on_each_database, location("ehpad-rocroi", "EHPAD de Rocroi", "Rocroi"))
    return site_on_each_database


def post(client: TestClient, path: str, **form: str) -> Any:
    token = csrf_of(client.get("/").text)
    return client.post(path, data={"csrf_token": token, **form}, follow_redirects=False)


def user_id(site: Site, email: str) -> int:
    with transaction(site.app.state.sessions) as session:
        return session.scalars(select(User.id).where(User.email == email)).one()


def account_events(site: Site, email: str) -> list[dict[str, Any]]:
    """The AuditEvents naming the account ``email``, oldest first (by when they were recorded:
    events chained in one batch share their storage time)."""
    audit.drain(site.app.state.sessions, site.app.state.settings.zone)  # queued events chained
    with transaction(site.app.state.sessions) as session:
        bodies = session.scalars(
            select(Resource.body).where(Resource.resource_type == "AuditEvent")
        ).all()
    wanted = {"identifier": {"system": USER_SYSTEM, "value": email}}
    named = [b for b in bodies if any(e["what"] == wanted for e in b.get("entity", []))]
    return sorted(named, key=lambda body: body["recorded"])


def set_password(site: Site, link: str, password: str = NEW_PASSWORD) -> Any:
    """Follow a reset link as its recipient does (a browser of their own)."""
    client = site.client()
    target = urlsplit(link)
    form_page = client.get(f"{target.path}?{target.query}")
    assert form_page.status_code == 200
    token = re.search(r'name="jeton" value="([^"]+)"', form_page.text)
    assert token
    form = {"csrf_token": csrf_of(form_page.text), "jeton": html.unescape(token.group(1))}
    form |= {"password": password, "confirmation": password}
    return client.post(target.path, data=form, follow_redirects=False)


def create_nurse(site: Site, admin: TestClient, email: str = "infirmiere@ehpad.example") -> str:
    created = post(
        admin, "/admin/comptes", email=email, role="site-professional", site="Location/ehpad-rocroi"
    )
    assert created.status_code == 201, created.text
    found = LINK.search(created.text)
    assert found, "the page shows the reset link"
    return html.unescape(found.group(1))


def test_an_admin_creates_a_nurse_who_chooses_her_password_once(site: Site) -> None:
    admin = site.logged_in("admin")
    form = admin.get("/admin/comptes")
    assert form.status_code == 200 and "EHPAD de Rocroi" in form.text
    link = create_nurse(site, admin)
    assert "mot de passe" in admin.get("/admin/comptes").text
    listed = admin.get("/admin/comptes", params={"courriel": "infirm"}).text
    assert "1 compte pour « infirm »" in listed and "<td>EHPAD de Rocroi</td>" in listed
    assert set_password(site, link).headers["location"] == "/connexion"
    nurse = site.client()
    login(nurse, "infirmiere@ehpad.example", NEW_PASSWORD)
    assert "/teleconsultations/nouvelle" in nurse.get("/").text
    again = set_password(site, link, "encore un autre mot de passe")
    assert again.status_code == 422 and "plus valable" in again.text
    events = account_events(site, "infirmiere@ehpad.example")
    assert [e["action"] for e in events] == ["C", "U"]
    assert "site-professional" in events[0]["outcomeDesc"]
    assert events[0]["agent"][0]["altId"].startswith("admin-")


def test_a_site_professional_needs_an_existing_site(site: Site) -> None:
    admin = site.logged_in("admin")
    missing = post(admin, "/admin/comptes", email="a@b.example", role="site-professional")
    assert missing.status_code == 422
    assert "Rattachement manquant : un professionnel nomme son site" in missing.text
    unknown = post(
        admin, "/admin/comptes", email="a@b.example", role="site-professional", site="Location/x"
    )
    assert unknown.status_code == 422 and "Location/x n&#39;existe pas" in unknown.text


def test_role_change_deactivation_and_reset_are_audited_and_take_effect(site: Site) -> None:
    admin = site.logged_in("admin")
    email = site.user("planner")
    planner = site.client()
    login(planner, email)
    ident = user_id(site, email)
    changed = post(
        admin,
        f"/admin/comptes/{ident}/role",
        role="site-professional",
        site="Location/ehpad-rocroi",
    )
    assert changed.status_code == 303
    assert "/teleconsultations/nouvelle" in planner.get("/").text  # the new role at once
    assert post(admin, f"/admin/comptes/{ident}/etat", actif="non").status_code == 303
    assert planner.get("/", follow_redirects=False).status_code == 303  # sent to log in
    assert "Désactivé" in admin.get(f"/admin/comptes/{ident}").text
    assert post(admin, f"/admin/comptes/{ident}/etat", actif="oui").status_code == 303
    reset = post(admin, f"/admin/comptes/{ident}/reinitialisation")
    assert reset.status_code == 200 and PASSWORD not in reset.text
    refused = site.client()
    token = csrf_of(refused.get("/connexion").text)
    old = {"email": email, "password": PASSWORD, "csrf_token": token}
    assert refused.post("/connexion", data=old).status_code == 401  # the old password is void
    found = LINK.search(reset.text)
    assert found
    assert set_password(site, html.unescape(found.group(1))).status_code == 303
    descriptions = [e["outcomeDesc"] for e in account_events(site, email)]
    assert descriptions[0].startswith("role and links: planner → site-professional")
    assert descriptions[1:] == [
        "account deactivated",
        "account reactivated",
        "password reset: one-time link issued",
        "password set through a reset link",
    ]


def test_an_admin_does_not_lock_themselves_out(site: Site) -> None:
    admin = site.client()
    email = site.user("admin")
    login(admin, email)
    response = post(admin, f"/admin/comptes/{user_id(site, email)}/etat", actif="non")
    assert response.status_code == 403 and "propre compte" in response.text
    assert admin.get("/admin/comptes").status_code == 200


def test_the_list_is_paged(site: Site) -> None:
    for _ in range(55):
        site.user("coordinator")
    admin = site.logged_in("admin")
    first = admin.get("/admin/comptes").text
    assert "56 comptes" in first and "page 1 sur 2" in first
    second = admin.get("/admin/comptes", params={"page": 2}).text
    assert len(re.findall(r'<a href="/admin/comptes/\d+">', second)) == 6


@pytest.mark.parametrize("role", ["coordinator", "planner", "site-professional", "patient"])
def test_only_admins_manage_accounts(site: Site, role: str) -> None:
    client = site.logged_in(role)
    assert client.get("/admin/comptes").status_code == 403
    created = post(client, "/admin/comptes", email="x@y.example", role="admin")
    assert created.status_code == 403
    with transaction(site.app.state.sessions) as session:
        assert session.scalars(select(User).where(User.email == "x@y.example")).first() is None
