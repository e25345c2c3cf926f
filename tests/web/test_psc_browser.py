"""A professional logs in through Pro Santé Connect in Chromium, against the local OpenID
provider (oidc-provider over TLS with a test CA, ``tls_client_auth``), and logs out at it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from browser_support import LiveServer, local_page, serious_violations, shoot
from playwright.sync_api import Browser, expect
from psc_support import DOCTOR, LocalPsc, install_provider, local_psc
from web_site import Site, make_site

from maillage.care.psc_accounts import link_psc
from maillage.config import Settings
from maillage.jobs.queue import JobSettings


@pytest.fixture
def served(
    tmp_path: Path, missing_service: Callable[[str], NoReturn]
) -> Iterator[tuple[Site, str, LocalPsc]]:
    """The site served on a loopback port, with PSC pointing at a provider that knows that
    port's return URL (so the settings get the issuer once both are bound)."""
    reason = install_provider()
    if reason:
        missing_service(reason)
    site = make_site(tmp_path, JobSettings(redis_url="redis://127.0.0.1:1/0"))
    server = LiveServer(site)
    try:
        with local_psc(tmp_path / "psc", [server.url]) as psc, server:
            settings = site.app.state.settings
            site.app.state.settings = Settings(**(settings.model_dump() | psc.settings()))
            yield site, server.url, psc
    finally:
        site.app.state.engine.dispose()


def test_a_professional_logs_in_and_out_through_pro_sante_connect(
    browser: Browser, served: tuple[Site, str, LocalPsc], tmp_path: Path
) -> None:
    site, url, psc = served
    email = site.user("practitioner")
    link_psc(site.app.state.sessions, email, DOCTOR)
    # Chromium does not know the test CA; maillage's server side checks the provider with it.
    with local_page(browser, url, ignore_https_errors=True) as page:
        page.goto("/connexion?suivant=%2Fconsultations")
        assert serious_violations(page) == []
        shoot(page, tmp_path, "connexion-psc")
        page.get_by_role("link", name="Se connecter avec Pro Santé Connect").click()

        expect(page).to_have_url(re.compile(re.escape(f"{psc.issuer}/interaction/")))
        page.get_by_label("Identifiant national (idNat_PS)").fill(DOCTOR)
        page.get_by_role("button", name="Valider avec e-CPS").click()

        expect(page).to_have_url(f"{url}/consultations")
        expect(page.get_by_text(email)).to_be_visible()
        shoot(page, tmp_path, "connecte-par-psc")

        page.get_by_role("button", name="Se déconnecter").click()
        expect(page).to_have_url(re.compile(re.escape(f"{psc.issuer}/session/end")))
        page.get_by_role("button", name="Se déconnecter").click()
        expect(page).to_have_url(f"{url}/connexion")
        page.goto("/consultations")
        expect(page).to_have_url(f"{url}/connexion?suivant=%2Fconsultations")
