"""The remote doctor's day in headless Chromium, on PostgreSQL right after ``maillage demo
seed``: the demo GP goes from day to day to a booked teleconsultation, finds its video link,
reads the patient's banner, marks the patient absent by mistake and undoes it from the day,
closes the consultation with its act (chosen once), writes the compte rendu and reads where it
went. axe-core checks each page."""

from __future__ import annotations

import re

import pytest
from browser_support import demo_log_in, serious_violations
from playwright.sync_api import Page, expect

DEMO_DATABASE = "doctorday"


@pytest.fixture
def page(demo_page: Page) -> Page:
    return demo_page


def test_the_doctor_goes_through_the_day_and_sends_the_compte_rendu(
    page: Page, demo: tuple[str, dict[str, str]]
) -> None:
    demo_log_in(page, demo, "practitioner")
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Mes consultations"
    ).click()
    rooms = page.get_by_role("link", name=re.compile("^Salle vidéo de "))
    for _ in range(10):  # the seed books the coming working days
        if rooms.count():
            break
        page.get_by_role("link", name="Jour suivant").click()
        expect(
            page.get_by_role("heading", name=re.compile("^Mes téléconsultations du "))
        ).to_be_visible()
    assert rooms.count(), "no booked teleconsultation in the next ten days"
    assert rooms.first.get_attribute("href", timeout=1000).startswith("https://meet.jit.si/")
    assert serious_violations(page) == []

    row = page.get_by_role("row").filter(has=rooms.first)
    consultation = row.get_by_role("link").first
    href = consultation.get_attribute("href", timeout=1000)
    consultation.click()
    banner = page.get_by_role("region", name=re.compile("^Patient : "))
    expect(banner).to_contain_text("Médecin traitant")
    expect(banner).to_contain_text(" ans (né(e) le ")
    expect(page.get_by_label("Acte réalisé")).to_have_count(1)  # the act is asked once
    expect(page.get_by_role("link", name="Ouvrir la salle vidéo (Jitsi Meet)")).to_be_visible()
    assert serious_violations(page) == []

    page.locator("summary", has_text="Patient absent").click()  # by mistake
    page.get_by_role("button", name="Confirmer : patient absent").click()
    same = page.get_by_role("row").filter(has=page.locator(f'a[href="{href}"]'))
    expect(same).to_contain_text("Patient absent")
    notice = page.get_by_role("status").filter(has_text="Consultation marquée absente")
    expect(notice).to_have_count(1)
    assert serious_violations(page) == []
    notice.get_by_role("button", name="Annuler cette action").click()
    expect(page.get_by_role("status").filter(has_text="est de nouveau réservée")).to_be_visible()
    expect(same).to_contain_text("Réservé")
    expect(page.get_by_role("button", name="Annuler cette action")).to_have_count(0)
    same.get_by_role("link").first.click()
    expect(page.locator("#statut")).to_have_text("Réservé")
    page.get_by_label("Acte réalisé").select_option("TCG")
    page.get_by_role("button", name="Consultation réalisée").click()
    expect(page.locator("#statut")).to_have_text("Réalisé")
    expect(page.get_by_label("Acte réalisé")).to_have_count(0)
    page.get_by_label("Compte rendu", exact=True).fill("Bronchite virale ; repos, paracétamol.")
    page.get_by_role("button", name="Envoyer le compte rendu").click()
    sent = page.locator("ul.envois")
    expect(sent).to_contain_text(re.compile(r"en attente d'envoi|Rien n'a été envoyé : "))
    assert serious_violations(page) == []
