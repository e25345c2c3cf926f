"""TOTP second factor: enrolment with a QR code and a confirming code, the login's code step,
codes used once, recovery codes, enrolment forced at login where the role requires it, the
API's token endpoint (the whole of it in Chromium on the demo: test_patient_dpo_browser.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from web_site import PASSWORD, Site, csrf_of, make_site

from maillage.care import second_factor
from maillage.jobs.queue import JobSettings
from maillage.store import audit
from maillage.store.database import transaction
from maillage.store.models import Resource, User

SECRET = re.compile(r'<code id="cle">([A-Z2-7]+)</code>')
CODES = re.compile(r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>")


@pytest.fixture
def site(site_on_each_database: Site) -> Site:
    """This module's page tests run on SQLite and on PostgreSQL."""
    return site_on_each_database


def post(client: TestClient, path: str, page: str = "/", **form: str) -> Any:
    token = csrf_of(client.get(page).text)
    return client.post(path, data={"csrf_token": token, **form}, follow_redirects=False)


def password_step(client: TestClient, email: str) -> Any:
    return post(client, "/connexion", "/connexion", email=email, password=PASSWORD)


def enrol(client: TestClient) -> tuple[pyotp.TOTP, list[str]]:
    """Enrol from the account page; the authenticator and the recovery codes shown."""
    page = client.get("/compte/double-authentification")
    assert page.status_code == 200 and 'src="data:image/svg+xml' in page.text
    found = SECRET.search(page.text)
    assert found, "the page shows the key to type in"
    totp = pyotp.TOTP(found.group(1))
    wrong = "000000" if totp.now() != "000000" else "111111"
    shown = post(
        client,
        "/compte/double-authentification/activation",
        "/compte/double-authentification",
        code=wrong,
    )
    assert shown.status_code == 400 and "Code incorrect" in shown.text
    assert totp.secret in shown.text  # the same key: no need to scan again
    confirmed = post(
        client,
        "/compte/double-authentification/activation",
        "/compte/double-authentification",
        code=totp.now(),
    )
    assert confirmed.status_code == 200, confirmed.text
    codes = CODES.findall(confirmed.text)
    assert len(codes) == second_factor.RECOVERY_CODES
    return totp, codes


def account(site: Site, email: str) -> User:
    with transaction(site.app.state.sessions) as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        session.expunge(user)
        return user


def test_a_patient_adds_a_second_factor_and_then_logs_in_with_it(site: Site) -> None:
    email = site.user("patient")
    client = site.client()
    assert password_step(client, email).headers["location"] == "/"  # optional: not yet
    totp, recovery = enrol(client)

    stored = account(site, email)
    assert stored.totp_confirmed is not None and stored.totp_secret
    assert totp.secret not in stored.totp_secret  # encrypted
    assert not any(code.replace("-", "") in str(stored.totp_recovery) for code in recovery)
    page = client.get("/compte/double-authentification").text
    assert totp.secret not in page and "activée" in page  # never shown again

    browser = site.client()
    started = password_step(browser, email)
    assert started.headers["location"] == "/connexion/code"
    assert browser.get("/", follow_redirects=False).status_code == 303  # no session yet
    wrong = post(browser, "/connexion/code", "/connexion/code", code="12345")
    assert wrong.status_code == 401 and "Code incorrect" in wrong.text
    later = totp.at(datetime.now(UTC) + timedelta(seconds=30))
    done = post(browser, "/connexion/code", "/connexion/code", code=later)
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert browser.get("/").status_code == 200

    again = site.client()
    password_step(again, email)
    replayed = post(again, "/connexion/code", "/connexion/code", code=later)
    assert replayed.status_code == 401  # a code is accepted once
    rescued = post(again, "/connexion/code", "/connexion/code", code=recovery[0].upper())
    assert rescued.status_code == 303
    third = site.client()
    password_step(third, email)
    assert post(third, "/connexion/code", "/connexion/code", code=recovery[0]).status_code == 401

    audit.drain(site.app.state.sessions, site.app.state.settings.zone)  # queued events chained
    with transaction(site.app.state.sessions) as session:
        events = session.scalars(
            select(Resource.body).where(Resource.resource_type == "AuditEvent")
        ).all()
    told = sorted(e["outcomeDesc"] for e in events if e["entity"][0]["what"].get("identifier"))
    assert told == [
        "recovery code used (9 left)",
        "second factor (TOTP) enrolled",
        *["second factor code refused"] * 3,
    ]


def test_the_code_step_needs_the_password_step_first(site: Site) -> None:
    client = site.client()
    assert client.get("/connexion/code").status_code == 401
    client.cookies.set("maillage_second_factor", "1")  # a forged cookie, no password step
    assert client.get("/connexion/code").status_code == 401


def test_required_roles_enrol_before_their_first_session(tmp_path: Any) -> None:
    site = make_site(tmp_path, JobSettings(redis_url="redis://127.0.0.1:1/0"), totp_required=True)
    coordinator = site.user("coordinator")
    client = site.client()
    assert password_step(client, coordinator).headers["location"] == "/connexion/activation"
    page = client.get("/connexion/activation")
    assert "Votre rôle impose" in page.text
    found = SECRET.search(page.text)
    assert found
    totp = pyotp.TOTP(found.group(1))
    done = post(client, "/connexion/activation", "/connexion/activation", code=totp.now())
    assert done.status_code == 200 and len(CODES.findall(done.text)) == 10
    home = client.get("/")
    assert home.status_code == 200 and coordinator in home.text
    kept = client.get("/compte/double-authentification").text
    assert "ne peut pas être retirée" in kept

    dpo = site.user("dpo")
    assert password_step(site.client(), dpo).headers["location"] == "/connexion/activation"
    patient = site.user("patient")  # optional for patients, even when required for others
    assert password_step(site.client(), patient).headers["location"] == "/"

    # The API asks the same: the code in the form field ``totp``.
    form = {"username": coordinator, "password": PASSWORD}
    assert site.client().post("/auth/token", data=form).status_code == 401
    later = totp.at(datetime.now(UTC) + timedelta(seconds=30))
    issued = site.client().post("/auth/token", data={**form, "totp": later})
    assert issued.status_code == 200 and issued.json()["token_type"] == "bearer"
    admin = site.user("admin")
    refused = site.client().post("/auth/token", data={"username": admin, "password": PASSWORD})
    assert refused.status_code == 403
    assert refused.json()["resourceType"] == "OperationOutcome"
    site.app.state.engine.dispose()


def test_codes_follow_the_injected_clock(site: Site) -> None:
    email = site.user("patient")
    user_id = account(site, email).id
    sessions, settings = site.app.state.sessions, site.app.state.settings
    enrolment = second_factor.begin(sessions, settings, user_id)
    totp = pyotp.TOTP(enrolment.secret)
    assert enrolment.uri.startswith("otpauth://totp/maillage:")
    noon = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    second_factor.confirm(sessions, settings, user_id, totp.at(noon), address="t", now=noon)

    def works(code_at: datetime, now: datetime) -> bool:
        return second_factor.check(
            sessions, settings, user_id, totp.at(code_at), address="t", now=now
        )

    minute = noon + timedelta(minutes=1)
    assert not works(minute, minute + timedelta(seconds=90))  # too old: beyond the drift
    assert works(minute, minute + timedelta(seconds=25))  # the next step, within it
    assert not works(minute, minute + timedelta(seconds=25))  # used
    assert not works(noon, minute + timedelta(minutes=1))  # an older step, never again
    with pytest.raises(second_factor.InvalidCode):
        second_factor.withdraw(
            sessions, settings, user_id, "000000", address="t", now=noon + timedelta(hours=1)
        )
    hour = noon + timedelta(hours=1)
    second_factor.withdraw(sessions, settings, user_id, totp.at(hour), address="t", now=hour)
    assert not second_factor.enrolled(sessions, user_id)
