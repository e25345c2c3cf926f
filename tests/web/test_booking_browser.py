"""An EHPAD nurse's booking day in headless Chromium, on PostgreSQL right after `maillage demo
seed` (run as the command, no ANALYZE by hand): she finds one of four « Jeanne LAMBERT » by
birth date, books her in the week calendar after a slot conflict that keeps the form, registers
a resident, records her consent and books her at home with a liberal nurse; the confirmations
go to the EHPAD and to the patient. Screenshots of the calendar are saved under the test's
``captures`` folder (artefacts, not committed)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import (
    LiveServer,
    fits_a_tablet,
    local_page,
    log_in,
    serious_violations,
    shoot,
)
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from web_site import SECRET, Site, csrf_of, login, make_site

from maillage.demo.network import SITES, TREATING_DOCTORS
from maillage.demo.seed import stable_id
from maillage.jobs.queue import JobSettings
from maillage.store.database import transaction
from maillage.store.models import OutboxMessage, Resource

pytestmark = pytest.mark.postgres
NURSE = "demo-ehpad-nurse@maillage.invalid"
EHPAD_MAIL = f"accueil@{SITES[1].site.site_id}.mssante.invalid"


@pytest.fixture
def seeded(
    tmp_path: Path, postgres_url: str, database_url: str
) -> Iterator[tuple[Site, dict[str, str]]]:
    """A site on an emptied PostgreSQL database, seeded by the `maillage demo seed` command."""
    assert database_url == postgres_url
    accounts = tmp_path / "accounts.txt"
    env = os.environ | {
        "MAILLAGE_DATABASE_URL": postgres_url,
        "MAILLAGE_SECRET_KEY": SECRET,
        "MAILLAGE_FILES_DIR": str(tmp_path / "files"),
    }
    maillage = [sys.executable, "-c", "from maillage.cli import app; app()"]  # the command
    command = [
        *maillage,
        "demo",
        "seed",
        "--scale",
        "0.05",
        "--no-diagnosis",
    ]
    done = subprocess.run(
        [*command, "--accounts-file", str(accounts)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    site = make_site(
        tmp_path, JobSettings(redis_url="redis://127.0.0.1:1/0"), database_url=postgres_url
    )
    lines = accounts.read_text().splitlines()[1:]
    yield site, dict(line.split("\t")[1:] for line in lines)
    site.app.state.engine.dispose()


@pytest.fixture
def nurse_page(browser: Browser, seeded: tuple[Site, dict[str, str]]) -> Iterator[Page]:
    """The EHPAD nurse, logged in on a tablet-sized French page; outside requests fail."""
    site, passwords = seeded
    with LiveServer(site) as server, local_page(browser, server.url) as page:
        log_in(page, NURSE, passwords[NURSE])
        yield page


def referrals(site: Site, reason: str) -> list[str]:
    """Who oriented the patients of the appointments booked for ``reason``."""
    with transaction(site.app.state.sessions) as session:
        bodies = session.execute(
            select(Resource.body).where(Resource.resource_type == "Appointment")
        ).scalars()
        return [
            e["valueReference"]["reference"]
            for body in bodies
            if body.get("description") == reason
            for e in body.get("extension", [])
            if e["url"] == "urn:maillage:referred-by"
        ]


def recipients(site: Site) -> list[str]:
    with transaction(site.app.state.sessions) as session:
        return list(session.execute(select(OutboxMessage.recipient)).scalars())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_ehpad_nurse_books_after_the_demo_seed(
    nurse_page: Page, seeded: tuple[Site, dict[str, str]], tmp_path: Path
) -> None:
    page, (site, passwords) = nurse_page, seeded
    nav = page.get_by_role("navigation", name="Navigation principale")
    nav.get_by_role("link", name="Patients du site").click()
    page.get_by_label("Nom (de naissance ou d'usage) ou prénom").fill("Jeanne Lambert")
    page.get_by_role("button", name="Rechercher").click()
    found = page.get_by_role("table").locator("tbody tr")
    assert found.count() >= 4  # the four residents of the same name, at least
    page.get_by_label("Date de naissance").fill("1940-05-02")
    page.get_by_role("button", name="Rechercher").click()
    expect(found).to_have_count(1)
    expect(found).to_contain_text("02/05/1940")
    assert serious_violations(page) == []
    shoot(page, tmp_path, "patients-du-site")

    page.get_by_role("link", name="Réserver pour Jeanne LAMBERT, né(e) le 02/05/1940").click()
    expect(page.get_by_role("heading", name="Réserver une téléconsultation")).to_be_visible()
    expect(page.locator("#patient-choisi")).to_contain_text("02/05/1940")
    calendar = page.get_by_role("table", name=re.compile("Créneaux communs libres"))
    expect(calendar).to_be_visible()
    assert serious_violations(page) == []
    fits_a_tablet(page)
    shoot(page, tmp_path, "calendrier")

    # Meanwhile a colleague books the first opening for another Jeanne LAMBERT.
    first = page.locator('input[name="creneau"]').first
    taken = first.get_attribute("value")
    colleague = site.client()
    login(colleague, NURSE, passwords[NURSE])
    other = stable_id("Patient", "lambert/0")
    form = colleague.get(f"/teleconsultations/nouvelle?patient={other}").text
    sent = {"csrf_token": csrf_of(form), "patient": other, "creneau": taken, "motif": "Toux"}
    assert (
        colleague.post("/teleconsultations", data=sent, follow_redirects=False).status_code == 303
    )

    first.check()
    page.get_by_label("Motif de la consultation").fill("Chute, plaie du coude")
    oriented = page.get_by_label("Orienté(e) par son médecin traitant")  # Rocroi's GP
    oriented.check()
    shoot(page, tmp_path, "parcours-de-soins")
    page.get_by_role("button", name="Réserver").click()
    expect(page.get_by_role("alert")).to_contain_text("Ce créneau vient")
    expect(page.get_by_label("Motif de la consultation")).to_have_value("Chute, plaie du coude")
    expect(oriented).to_be_checked()
    expect(page.locator("#patient-choisi")).to_contain_text("02/05/1940")
    assert page.locator(f'input[name="creneau"][value="{taken}"]').count() == 0
    page.locator('input[name="creneau"]').first.check()
    page.get_by_role("button", name="Réserver").click()
    expect(page.get_by_role("heading", name="Téléconsultation réservée")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Chute, plaie du coude")
    assert serious_violations(page) == []
    assert referrals(site, "Chute, plaie du coude") == [
        f"Practitioner/{stable_id('Practitioner', TREATING_DOCTORS[1].key)}"
    ]
    assert recipients(site).count(EHPAD_MAIL) == 2  # the residents have no e-mail of their own

    nav.get_by_role("link", name="Patients du site").click()
    page.get_by_role("link", name="Enregistrer un nouveau patient").click()
    page.get_by_label("Nom de naissance").fill("Lambert")
    page.get_by_label("Prénoms (état civil)").fill("Jeanne Odette")
    page.get_by_label("Date de naissance").fill("1950-01-20")
    page.get_by_label("Sexe").select_option(label="Féminin")
    page.get_by_label("Statut de l'identité").select_option(label="Validée")
    page.get_by_label("Commune de résidence").fill("Rocroi")
    page.get_by_label("Adresse électronique (confirmations de rendez-vous)").fill(
        "jeanne.odette@example.org"
    )
    assert serious_violations(page) == []
    fits_a_tablet(page)
    page.get_by_role("button", name="Enregistrer le patient").click()
    expect(page.get_by_role("heading", name="Jeanne Odette LAMBERT")).to_be_visible()
    expect(page.locator("#consentement")).to_have_text("Aucun consentement enregistré.")
    page.get_by_role("button", name="Enregistrer le consentement").click()
    expect(page.locator("#consentement")).to_have_text("Consentement donné.")
    assert serious_violations(page) == []

    page.get_by_role("link", name="Réserver une téléconsultation pour ce patient").click()
    page.get_by_label("Lieu").select_option(
        label="Au domicile du patient, avec un infirmier libéral"
    )
    page.get_by_role("button", name="Afficher les créneaux").click()
    home = page.locator('input[name="creneau"]').first
    expect(home).to_have_attribute(
        "aria-label", re.compile(r"et (Sophie GILLET|Marc RENARD) \(IDE libéral\)")
    )
    shoot(page, tmp_path, "calendrier-domicile")
    home.check()
    page.get_by_label("Motif de la consultation").fill("Ulcère de jambe")
    page.get_by_role("button", name="Réserver").click()
    expect(page.get_by_role("heading", name="Téléconsultation réservée")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text=re.compile("GILLET|RENARD"))).to_have_count(
        1
    )
    expect(page.get_by_text("Site :")).to_have_count(0)  # at home: no site, no room
    assert "jeanne.odette@example.org" in recipients(site)
    print(f"captures: {tmp_path / 'captures'}")
