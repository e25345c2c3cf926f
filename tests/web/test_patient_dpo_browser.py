"""The patient and the data protection officer in headless Chromium, on PostgreSQL right after
``maillage demo seed``: the demo patient sees an appointment with its video link, a compte
rendu and who accessed their record, and cancels an appointment; the DPO filters the journal
of accesses and exports it for French Excel; the demo admin enrols a second factor (TOTP) and
logs in with it. axe-core checks each page."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from browser_support import coordinator_api, demo_log_in, fits_a_tablet, serious_violations
from playwright.sync_api import Page, expect

from maillage.demo.network import DOCTORS
from maillage.demo.seed import stable_id

PATIENT = f"Patient/{stable_id('Patient', 0)}"
DEMO_DATABASE = "patient"


@pytest.fixture
def page(demo_page: Page) -> Page:
    return demo_page


def book_in_five_minutes(demo: tuple[str, dict[str, str]]) -> None:
    """The coordinator books the demo patient a teleconsultation starting in five minutes
    (through the API), so that its video link is due now."""
    with coordinator_api(demo) as api:
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
        doctor = f"Practitioner/{stable_id('Practitioner', DOCTORS[-1].key)}"
        body = {
            "resourceType": "Appointment",
            "status": "booked",
            "serviceType": [
                {"coding": [{"system": "urn:maillage:workflow", "code": "teleconsultation"}]}
            ],
            "start": start.isoformat().replace("+00:00", "Z"),
            "end": (start + timedelta(minutes=20)).isoformat().replace("+00:00", "Z"),
            "participant": [
                {"actor": {"reference": PATIENT}, "status": "accepted"},
                {"actor": {"reference": doctor}, "status": "accepted"},
            ],
        }
        headers = {"Content-Type": "application/fhir+json"}
        created = api.post("/fhir/Appointment", json=body, headers=headers)
        assert created.status_code == 201, created.text


def test_the_patient_sees_their_record_and_cancels(
    page: Page, demo: tuple[str, dict[str, str]]
) -> None:
    book_in_five_minutes(demo)
    demo_log_in(page, demo, "patient")
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Mon espace"
    ).click()
    expect(page.get_by_role("heading", name=re.compile("^Mon espace — "))).to_be_visible()
    join = page.get_by_role("link", name="Rejoindre la téléconsultation")
    expect(join).to_have_count(1)
    assert join.get_attribute("href", timeout=1000).startswith("https://meet.jit.si/maillage-")
    later = page.locator("li", has_text="quinze minutes avant le rendez-vous")
    expect(later).to_have_count(1)  # the seed's booking of the next working day
    expect(page.get_by_role("link", name="Compte rendu de téléconsultation")).to_be_visible()
    accesses = page.get_by_role("table", name="Accès à mon dossier")
    expect(accesses).to_contain_text("demo-coordinator@maillage.invalid")
    assert serious_violations(page) == []

    later.get_by_role("button", name="Annuler ce rendez-vous").click()
    expect(page.locator("li", has_text="quinze minutes avant le rendez-vous")).to_have_count(0)
    expect(page.get_by_role("heading", name="Rendez-vous passés ou annulés")).to_be_visible()
    expect(page.locator("body")).to_contain_text("Annulé")
    with page.expect_download() as download:
        page.get_by_role("link", name="au format PDF").click()
    assert download.value.suggested_filename == "mon-dossier.pdf"


def test_the_dpo_filters_the_journal_and_exports_it(
    page: Page, demo: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """The DPO finds the searches of one patient's records (the coordinator's, here: the test
    makes its own, whichever of the module's tests ran before it on its worker)."""
    with coordinator_api(demo) as api:
        searched = api.get("/fhir/Appointment", params={"patient": PATIENT})
        assert searched.status_code == 200, searched.text
    demo_log_in(page, demo, "dpo")
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Journal des accès"
    ).click()
    page.get_by_label("Patient (identifiant)").fill(PATIENT.removeprefix("Patient/"))
    page.get_by_label("Action").select_option(label="recherche")
    page.get_by_role("button", name="Filtrer").click()
    table = page.get_by_role("table", name=re.compile("^Accès, du plus récent"))
    expect(table).to_be_visible()
    for row in table.locator("tbody tr").all():
        expect(row).to_contain_text("recherche")
        expect(row).to_contain_text(PATIENT)
    assert serious_violations(page) == []
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV pour Excel (français)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    text = saved.read_bytes().decode("utf-8-sig")
    assert text.startswith("Date;Compte;Rôle;Action;Dossiers;Résultat")
    assert PATIENT in text


def test_the_admin_enrols_a_second_factor_and_logs_in_with_it(
    page: Page, demo: tuple[str, dict[str, str]]
) -> None:
    """TOTP enrolment from the account page, then a login that asks for the code (the admin:
    no other test of this module logs in as them)."""
    demo_log_in(page, demo, "admin")
    page.get_by_role("link", name="Double authentification").click()
    expect(page.get_by_role("img", name=re.compile("Code QR"))).to_be_visible()
    assert serious_violations(page) == []
    fits_a_tablet(page)
    totp = pyotp.TOTP(page.locator("#cle").inner_text())
    page.get_by_label("Code affiché par l'application").fill(totp.now())
    page.get_by_role("button", name="Activer").click()
    expect(page.locator("#codes-de-secours li")).to_have_count(10)
    page.get_by_role("button", name="Se déconnecter").click()

    email = "demo-admin@maillage.invalid"
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(demo[1]["admin"])
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Code de connexion")).to_be_visible()
    assert serious_violations(page) == []
    page.get_by_label("Code").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Valider").click()
    expect(page.get_by_text(f"{email} (")).to_be_visible()
