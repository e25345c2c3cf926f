"""Pro Santé Connect login against a real OpenID provider started locally (oidc-provider, TLS
with a test CA, ``tls_client_auth``): the professional is matched on the idNat_PS an account
stores, unknown ones are refused or left pending an admin, passwords stay closed to them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from fastapi.testclient import TestClient
from psc_support import DOCTOR, STRANGER, LocalPsc, install_provider, local_psc, psc_login
from pydantic import ValidationError
from tests.api.mtls_certificates import make_pki
from web_site import PASSWORD, Site, csrf_of, make_site

from maillage.care.psc_accounts import link_psc, pending_accounts, validate_account
from maillage.config import Settings
from maillage.jobs.queue import JobSettings

NO_REDIS = JobSettings(redis_url="redis://127.0.0.1:1/0")


@pytest.fixture(scope="module")
def psc(
    tmp_path_factory: pytest.TempPathFactory, missing_service: Callable[[str], NoReturn]
) -> Iterator[LocalPsc]:
    reason = install_provider()
    if reason:
        missing_service(reason)
    bases = ["http://127.0.0.1", "https://127.0.0.1"]
    with local_psc(tmp_path_factory.mktemp("psc"), bases) as provider:
        yield provider


def _site(tmp_path: Path, psc: LocalPsc, **settings: object) -> Iterator[Site]:
    site = make_site(tmp_path, NO_REDIS, **(psc.settings() | settings))
    yield site
    site.app.state.engine.dispose()


@pytest.fixture
def site(tmp_path: Path, psc: LocalPsc) -> Iterator[Site]:
    yield from _site(tmp_path, psc)


def test_a_professional_logs_in_on_their_idnat_ps_and_out_at_the_provider(
    tmp_path: Path, psc: LocalPsc
) -> None:
    """In production with passwords closed to professionals, PSC is their way in."""
    for site in _site(tmp_path, psc, env="production", professionals_password_login=False):
        email = site.user("practitioner")
        link_psc(site.app.state.sessions, email, DOCTOR)
        client = TestClient(site.app, base_url="https://127.0.0.1")  # the cookie is Secure
        page = client.get("/connexion")
        assert "Se connecter avec Pro Santé Connect" in page.text
        form = {"email": email, "password": PASSWORD, "csrf_token": csrf_of(page.text)}
        refused = client.post("/connexion", data=form, follow_redirects=False)
        assert refused.status_code == 403
        assert "Se connecter avec Pro Santé Connect" in refused.text
        back = psc_login(client, psc, DOCTOR, target="/reseau")
        assert back.status_code == 303, back.text
        assert back.headers["location"] == "/reseau"
        home = client.get("/")
        assert home.status_code == 200
        assert email in home.text
        token = csrf_of(home.text)
        out = client.post("/deconnexion", data={"csrf_token": token}, follow_redirects=False)
        assert out.status_code == 303
        assert out.headers["location"].startswith(f"{psc.issuer}/session/end?id_token_hint=")
        assert "form-action 'self' " + psc.issuer in home.headers["content-security-policy"]
        assert client.get("/", follow_redirects=False).status_code == 303  # logged out here


def test_an_unknown_idnat_ps_is_refused(site: Site, psc: LocalPsc) -> None:
    email = site.user("practitioner")
    link_psc(site.app.state.sessions, email, DOCTOR)
    client = site.client()
    refused = psc_login(client, psc, STRANGER)
    assert refused.status_code == 403
    assert "rattaché à votre identifiant Pro Santé Connect" in refused.text
    assert client.get("/", follow_redirects=False).status_code == 303
    assert pending_accounts(site.app.state.sessions) == []


def test_an_unknown_professional_is_created_pending_when_allowed(
    tmp_path: Path, psc: LocalPsc
) -> None:
    for site in _site(tmp_path, psc, psc_create_pending=True):
        sessions = site.app.state.sessions
        client = site.client()
        first = psc_login(client, psc, STRANGER)
        assert first.status_code == 403
        assert "il attend la validation" in first.text
        assert client.get("/", follow_redirects=False).status_code == 303
        again = psc_login(client, psc, STRANGER)
        assert "attend encore la validation" in again.text
        [pending] = pending_accounts(sessions)
        assert pending.psc_id == STRANGER
        validate_account(sessions, pending.email, "practitioner", practitioner="Practitioner/d1")
        assert psc_login(client, psc, STRANGER).status_code == 303
        assert client.get("/").status_code == 200


def test_an_answer_without_its_login_cookie_is_refused(site: Site, psc: LocalPsc) -> None:
    """The state, nonce and PKCE verifier come from the signed cookie, never from the URL."""
    client = site.client()
    forged = client.get("/connexion/psc/retour?code=x&state=y", follow_redirects=False)
    assert forged.status_code == 400
    assert "La connexion a expiré" in forged.text
    start = client.get("/connexion/psc", follow_redirects=False)
    assert start.status_code == 303
    wrong_state = client.get("/connexion/psc/retour?code=x&state=y", follow_redirects=False)
    assert wrong_state.status_code == 401
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_client_certificate_the_provider_does_not_trust_gets_no_token(
    tmp_path: Path, psc: LocalPsc
) -> None:
    """The token endpoint authenticates maillage by its TLS certificate (tls_client_auth): one
    from another CA, with the same subject, redeems no code."""
    (tmp_path / "other-ca").mkdir()
    stranger = make_pki(tmp_path / "other-ca")
    certificate = {"psc_client_cert": stranger.client_cert, "psc_client_key": stranger.client_key}
    for site in _site(tmp_path, psc, **certificate):
        link_psc(site.app.state.sessions, site.user("practitioner"), DOCTOR)
        client = site.client()
        refused = psc_login(client, psc, DOCTOR)
        assert refused.status_code == 401
        assert "Pro Santé Connect n'a pas confirmé votre identité" in refused.text.replace(
            "&#39;", "'"
        )
        assert client.get("/", follow_redirects=False).status_code == 303


def test_a_login_the_provider_refuses_opens_no_session(site: Site, psc: LocalPsc) -> None:
    """PSC's own refusal (``error=access_denied`` back at the return URL) is shown in French."""
    client = site.client()
    refused = psc_login(client, psc, "899999999999")  # no e-CPS at the provider
    assert refused.status_code == 401
    assert "pas confirmé votre identité" in refused.text
    assert client.get("/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"psc_issuer": "http://psc.example"}, "MAILLAGE_PSC_ISSUER must start with https://"),
        (
            {"psc_issuer": "https://psc.example", "psc_client_id": "c"},
            "needs MAILLAGE_PSC_CLIENT_CERT, MAILLAGE_PSC_CLIENT_KEY (mutual TLS)",
        ),
    ],
)
def test_psc_settings_need_https_and_the_client_certificate(
    settings: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Settings(**settings)


def test_without_psc_configured_there_is_no_button_nor_route(tmp_path: Path) -> None:
    site = make_site(tmp_path, NO_REDIS)
    client = site.client()
    assert "Pro Santé Connect" not in client.get("/connexion").text
    assert client.get("/connexion/psc", follow_redirects=False).status_code == 404
    site.app.state.engine.dispose()
