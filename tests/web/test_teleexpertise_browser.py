"""Télé-expertise from both sides in headless Chromium, on PostgreSQL right after
``maillage demo seed``: the demo GP asks the dermatologist about one of their patients with a
PDF, the specialist finds the request in their inbox, downloads the PDF and asks for a
complement; the GP sees it flagged, answers with another PDF; the specialist reads it under the
question and answers, and the GP reads the answer in « Mes télé-expertises ». axe-core checks
each page."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import (
    coordinator_api,
    demo_log_in,
    serious_violations,
    shoot,
)
from playwright.sync_api import Page, expect

from maillage.demo.network import DOCTORS
from maillage.demo.seed import stable_id

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
QUESTION = "Lésion pigmentée du dos, asymétrique, 8 mm : exérèse ou surveillance ?"
ASKED = "Avez-vous une image en dermoscopie ?"
SENT = "Dermoscopie jointe : réseau pigmentaire atypique en périphérie."


DEMO_DATABASE = "teleexpertise"


@pytest.fixture
def page(demo_page: Page) -> Page:
    return demo_page


def a_patient_of_the_gp(demo: tuple[str, dict[str, str]]) -> str:
    """The family name of a patient the demo GP has seen (read by the coordinator, through the
    API), whom the GP may ask about."""
    with coordinator_api(demo) as api:
        gp = f"Practitioner/{stable_id('Practitioner', DOCTORS[0].key)}"
        query = {"practitioner": gp, "_count": "1"}
        seen = api.get("/fhir/Appointment", params=query).json()["entry"][0]
        patient = next(
            p["actor"]["reference"]
            for p in seen["resource"]["participant"]
            if p["actor"]["reference"].startswith("Patient/")
        )
        body = api.get(f"/fhir/{patient}").json()
        return str(body["name"][0]["family"])


def test_the_gp_asks_the_specialist_answers_the_gp_reads(
    page: Page, demo: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    family = a_patient_of_the_gp(demo)
    letter = tmp_path / "photo-lesion.pdf"
    letter.write_bytes(PDF)

    demo_log_in(page, demo, "practitioner")
    nav = page.get_by_role("navigation", name="Navigation principale")
    nav.get_by_role("link", name="Mes télé-expertises").click()
    page.get_by_role("link", name="Demander une télé-expertise").click()
    page.get_by_label("Nom ou prénom du patient").fill(family)
    page.get_by_role("button", name="Trouver le patient").click()
    page.get_by_role("link", name="Choisir").first.click()
    expect(page.locator("#patient-choisi")).to_contain_text(family)
    page.get_by_label("Spécialiste sollicité").select_option(
        label="Dr Léa MOREAU — Dermatologie et vénéréologie"
    )
    page.get_by_label("Question posée au spécialiste").fill(QUESTION)
    page.get_by_label("Urgente").check()
    page.get_by_label("Pièces jointes").set_input_files(letter)
    assert serious_violations(page) == []
    page.get_by_role("button", name="Envoyer la demande").click()
    expect(page.get_by_role("heading", name="Télé-expertise pour")).to_contain_text(family)
    expect(page.get_by_role("link", name="photo-lesion.pdf")).to_be_visible()
    expect(page.locator("body")).to_contain_text("Le spécialiste n'a pas encore répondu")
    page.get_by_role("button", name="Se déconnecter").click()

    demo_log_in(page, demo, "specialist")
    nav.get_by_role("link", name="Télé-expertises", exact=True).click()
    row = page.get_by_role("row").filter(has_text=QUESTION)
    expect(row).to_contain_text("Dr Claire MARTIN")  # the requester, a person
    expect(row).to_contain_text("urgente")
    assert serious_violations(page) == []
    shoot(page, tmp_path, "teleexpertises-echeances")
    row.get_by_role("link").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="photo-lesion.pdf").click()
    assert Path(download.value.path()).read_bytes() == PDF
    page.get_by_label("Votre réponse ou votre question au demandeur").fill(ASKED)
    page.get_by_role("button", name="Demander un complément").click()
    expect(page.locator("ol.echanges")).to_contain_text(ASKED)
    page.get_by_role("button", name="Se déconnecter").click()

    demo_log_in(page, demo, "practitioner")
    nav.get_by_role("link", name="Mes télé-expertises").click()
    expect(page.get_by_role("status")).to_contain_text("1 demande attend un complément")
    waiting = page.get_by_role("row").filter(has_text=QUESTION)
    expect(waiting).to_contain_text("à compléter")
    waiting.get_by_role("link").click()
    expect(page.locator("ol.echanges")).to_contain_text(ASKED)
    dermoscopy = tmp_path / "dermoscopie.pdf"
    dermoscopy.write_bytes(PDF)
    page.get_by_label("Votre complément").fill(SENT)
    page.get_by_label("Pièces jointes du complément").set_input_files(dermoscopy)
    assert serious_violations(page) == []
    page.get_by_role("button", name="Envoyer le complément").click()
    expect(page.get_by_role("status")).to_contain_text("Votre complément a été envoyé")
    page.get_by_role("button", name="Se déconnecter").click()

    demo_log_in(page, demo, "specialist")
    nav.get_by_role("link", name="Télé-expertises", exact=True).click()
    row = page.get_by_role("row").filter(has_text=QUESTION)
    expect(row).to_contain_text("complément reçu")
    row.get_by_role("link").click()
    exchanges = page.locator("ol.echanges li")
    expect(exchanges.nth(0)).to_contain_text(ASKED)
    expect(exchanges.nth(1)).to_contain_text("Complément envoyé par Dr Claire MARTIN")
    expect(exchanges.nth(1)).to_contain_text(SENT)
    with page.expect_download() as download:
        exchanges.nth(1).get_by_role("link", name="dermoscopie.pdf").click()
    assert Path(download.value.path()).read_bytes() == PDF
    assert serious_violations(page) == []
    page.get_by_label("Votre réponse ou votre question au demandeur").fill(
        "Exérèse conseillée avec marges de 2 mm ; adressez l'analyse anatomopathologique."
    )
    page.get_by_role("button", name="Envoyer la réponse").click()
    expect(page.get_by_role("status")).to_contain_text("Vous avez répondu")
    page.get_by_role("button", name="Se déconnecter").click()

    demo_log_in(page, demo, "practitioner")
    nav.get_by_role("link", name="Mes télé-expertises").click()
    mine = page.get_by_role("row").filter(has_text=QUESTION)
    expect(mine).to_contain_text("Répondue")
    expect(mine).to_contain_text("Dr Léa MOREAU")
    assert serious_violations(page) == []
    mine.get_by_role("link").click()
    answer = page.get_by_role("status")
    expect(answer).to_contain_text("Réponse de Dr Léa MOREAU")
    expect(answer).to_contain_text("Exérèse conseillée avec marges de 2 mm")
    expect(page.locator("ol.echanges li")).to_have_count(2)  # the exchanges, kept in order
    assert serious_violations(page) == []
    shoot(page, tmp_path, "teleexpertise-reponse")
