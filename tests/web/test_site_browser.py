"""The site's bookings and availability in headless Chromium, on PostgreSQL right after
``maillage demo seed`` (its own ANALYZE, none by hand): the demo nurse moves and cancels
teleconsultations from her site's list and prints it; the demo doctor previews a weekly template
and creates its slots; the demo admin creates a nurse for an EHPAD, edits the EHPAD and records
its roadmap project, then finds it in the roadmap and the report. axe-core checks each page;
the site's list is saved as screenshots under the test's ``artefacts`` folder (not
committed)."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from browser_support import demo_database, demo_log_in, fits_a_tablet, serious_violations
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from maillage.diagnosis.parameters import DiagnosisParameters
from maillage.reports.report import evaluate, render_html

ZONE = ZoneInfo("Europe/Paris")
#: A funder the demo's projects do not name: its row is the admin's project alone.
FUNDER = "Conseil départemental des Ardennes"
DEMO_DATABASE = "site"


@pytest.fixture
def page(demo_page: Page) -> Page:
    return demo_page


@pytest.fixture
def artefacts(tmp_path: Path) -> Path:
    folder = tmp_path / "artefacts"
    folder.mkdir()
    return folder


def test_the_nurse_moves_cancels_and_prints_from_the_sites_list(
    page: Page, demo: tuple[str, dict[str, str]], artefacts: Path
) -> None:
    demo_log_in(page, demo, "site-professional")
    nav = page.get_by_role("navigation", name="Navigation principale")
    nav.get_by_role("link", name="Rendez-vous du site").click()
    today = page.get_by_role("table", name="Rendez-vous d'aujourd'hui")
    expect(today.get_by_role("row")).to_have_count(4)  # the header and the seed's three
    expect(today).to_contain_text("né(e) le")
    expect(today).to_contain_text("Dr Claire MARTIN")
    assert serious_violations(page) == []
    fits_a_tablet(page)
    page.screenshot(path=artefacts / "rendez-vous-du-site.png", full_page=True)

    today.get_by_role("link", name=re.compile("^Annuler ou déplacer")).first.click()
    expect(page.get_by_role("heading", name=re.compile("^Téléconsultation de"))).to_be_visible()
    assert serious_violations(page) == []
    chosen = page.get_by_label(re.compile("^Nouveau créneau"))
    target = chosen.locator("option").first.inner_text()
    chosen.select_option(index=0)
    page.get_by_role("button", name="Déplacer").click()
    expect(page.get_by_role("status")).to_contain_text("Le rendez-vous est déplacé")
    upcoming = page.get_by_role("table", name="Rendez-vous à venir")
    expect(upcoming).to_contain_text(target.split(" avec ")[0])
    expect(today.get_by_role("row")).to_have_count(3)

    today.get_by_role("link", name=re.compile("^Annuler ou déplacer")).first.click()
    page.get_by_label("Motif de l'annulation").fill("Résidente hospitalisée")
    page.get_by_role("button", name="Annuler le rendez-vous").click()
    expect(page.get_by_role("status")).to_contain_text("Le rendez-vous est annulé")
    expect(today).to_contain_text("Annulé")
    expect(today.get_by_role("link", name=re.compile("^Annuler ou déplacer"))).to_have_count(1)
    page.screenshot(path=artefacts / "rendez-vous-du-site-apres.png", full_page=True)

    with page.expect_download() as download:
        upcoming.get_by_role("link", name=re.compile("^Invitation ICS")).first.click()
    saved = artefacts / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.read_text(encoding="utf-8").startswith("BEGIN:VCALENDAR")

    page.get_by_role("link", name="Version imprimable").click()
    expect(page.get_by_role("table", name="Rendez-vous du site")).to_contain_text("Annulé")
    assert serious_violations(page) == []
    page.emulate_media(media="print")
    page.screenshot(path=artefacts / "rendez-vous-du-site-impression.png", full_page=True)
    assert sorted(p.name for p in artefacts.glob("*.png")) == [
        "rendez-vous-du-site-apres.png",
        "rendez-vous-du-site-impression.png",
        "rendez-vous-du-site.png",
    ]


def test_the_doctor_sets_a_template_and_sees_its_slots(
    page: Page, demo: tuple[str, dict[str, str]], artefacts: Path
) -> None:
    demo_log_in(page, demo, "practitioner")
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Disponibilités"
    ).click()
    page.get_by_role("button", name="Ouvrir").click()
    expect(page.get_by_role("heading", name=re.compile("^Dr Claire MARTIN"))).to_be_visible()
    assert serious_violations(page) == []
    for day in ("samedi", "dimanche"):
        page.get_by_label(day).check()
    page.get_by_label("De", exact=True).fill("13:00")
    page.get_by_label("À", exact=True).fill("14:00")
    page.get_by_label("Durée d'un créneau (minutes)").fill("30")
    first = page.get_by_label("Premier jour").input_value()
    page.get_by_label("Dernier jour").fill(first)  # one day: two slots, 13:00 and 13:30
    page.get_by_role("button", name="Aperçu des créneaux").click()
    expect(page.get_by_role("heading", name="Aperçu : 2 créneau(x)")).to_be_visible()
    expect(page.locator("ul.apercu")).to_contain_text("13:00, 13:30")
    expect(page.get_by_label("De", exact=True)).to_have_value("13:00")  # kept
    assert serious_violations(page) == []
    page.screenshot(path=artefacts / "disponibilites-apercu.png", full_page=True)
    page.get_by_role("button", name="Créer les créneaux").click()
    expect(page.get_by_role("status")).to_contain_text("2 créneau(x) créé(s)")
    slots = page.locator("ul.creneaux-agenda")
    expect(slots).to_contain_text("13:00 (libre)")
    expect(slots).to_contain_text("13:30 (libre)")
    page.screenshot(path=artefacts / "disponibilites.png", full_page=True)


def test_the_admin_creates_a_nurse_edits_a_site_and_records_its_project(
    page: Page, demo: tuple[str, dict[str, str]], postgres_url: str, artefacts: Path
) -> None:
    demo_log_in(page, demo, "admin")
    nav = page.get_by_role("navigation", name="Navigation principale")
    nav.get_by_role("link", name="Comptes").click()
    creation = page.locator("#creation")
    creation.get_by_label("Adresse électronique", exact=True).fill("ide.rocroi@ehpad.example")
    creation.get_by_label("Rôle").select_option(label="professionnel de site")
    creation.get_by_label("Site (professionnel de site)").select_option(label="EHPAD de Rocroi")
    assert serious_violations(page) == []
    fits_a_tablet(page)
    creation.get_by_role("button", name="Créer le compte").click()
    expect(page.get_by_role("heading", name="Compte créé")).to_be_visible()
    assert serious_violations(page) == []
    link = page.get_by_label("Lien de choix du mot de passe").input_value()
    page.get_by_role("button", name="Se déconnecter").click()

    page.goto(link)  # the nurse, with the link the admin handed her
    nurse_password = "la cabine de Rocroi 2025"
    page.get_by_label("Nouveau mot de passe (12 caractères au moins)").fill(nurse_password)
    page.get_by_label("Le même, une seconde fois").fill(nurse_password)
    assert serious_violations(page) == []
    page.get_by_role("button", name="Enregistrer le mot de passe").click()
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    page.get_by_label("Adresse électronique").fill("ide.rocroi@ehpad.example")
    page.get_by_label("Mot de passe").fill(nurse_password)
    page.keyboard.press("Enter")
    expect(nav.get_by_role("link", name="Réserver une téléconsultation")).to_be_visible()
    page.get_by_role("button", name="Se déconnecter").click()

    demo_log_in(page, demo, "admin")
    nav.get_by_role("link", name="Registre des sites").click()
    page.get_by_label("Commune").fill("Rocroi")
    page.get_by_role("button", name="Rechercher").click()
    page.get_by_role("link", name="EHPAD de Rocroi").click()
    page.get_by_role("link", name="Modifier ce site").click()
    expect(page.get_by_role("heading", name="Modifier EHPAD de Rocroi")).to_be_visible()
    assert serious_violations(page) == []
    fits_a_tablet(page)
    page.get_by_label("Nom", exact=True).fill("EHPAD Les Tilleuls de Rocroi")
    page.get_by_label("Télésurveillance").check()
    page.get_by_label("Électrocardiographe (ECG)").check()
    page.get_by_label("Numéro FINESS de l'établissement (9 caractères)").fill("010000024")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("heading", name="EHPAD Les Tilleuls de Rocroi")).to_be_visible()
    modalities = page.get_by_role("table", name="Modalités de télémédecine proposées sur ce site")
    expect(modalities).to_contain_text("Télésurveillance")
    expect(page.locator("#equipement")).to_contain_text("Électrocardiographe (ECG)")

    nav.get_by_role("link", name="Projets de la feuille de route").click()
    project = "Cabine de l'EHPAD Les Tilleuls"
    page.get_by_label("Nom du projet").fill(project)
    page.get_by_label("Type").select_option(label="Site de télémédecine")
    page.get_by_label("Site concerné").select_option(label="EHPAD Les Tilleuls de Rocroi")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Enregistrer le projet").click()
    expect(page.get_by_role("heading", name=project)).to_be_visible()
    for stage in ("Identifié", "Accompagné", "Financé", "Équipé"):
        page.get_by_label("Étape atteinte").select_option(label=stage)
        page.get_by_role("button", name="Enregistrer l'étape").click()
        expect(page.locator("#etape-actuelle")).to_have_text(stage)
    page.get_by_label("Financeur (ARS, Région, FEDER…)").fill(FUNDER)
    page.get_by_label("Montant en euros").fill("45 000")
    page.get_by_role("button", name="Enregistrer le financement").click()
    page.get_by_label("Nom", exact=True).fill("Claire Petit")
    page.get_by_label("Fonction").fill("Infirmière coordinatrice")
    page.get_by_role("button", name="Enregistrer la formation").click()
    page.get_by_label("Objet de la demande").fill("Caméra de la cabine muette")
    page.get_by_role("button", name="Envoyer à la hotline").click()
    expect(page.get_by_role("table", name="Demandes à la hotline")).to_contain_text("Ouverte")
    expect(page.get_by_role("table", name="Financements accordés")).to_contain_text(FUNDER)
    assert serious_violations(page) == []
    fits_a_tablet(page)
    page.screenshot(path=artefacts / "projet.png", full_page=True)

    nav.get_by_role("link", name="Activité du réseau").click()
    stages = page.get_by_role("table", name="Projets par étape atteinte")
    expect(stages.get_by_role("row", name="Équipé")).to_contain_text("1")  # the demo has none
    funders = page.get_by_role("table", name="Financements accordés par financeur")
    expect(funders.get_by_role("row", name=re.compile(f"^{FUNDER}"))).to_contain_text("45")
    assert serious_violations(page) == []

    engine = create_engine(demo_database(postgres_url, DEMO_DATABASE))
    try:
        with Session(engine) as session:
            result = evaluate(session, DiagnosisParameters(department="08"), None, ZONE)
    finally:
        engine.dispose()
    report = re.sub(r"\s+", " ", render_html(result))
    assert '<tr><td>Équipé</td><td class="n">1</td></tr>' in report
    assert re.search(rf'<tr><td>{FUNDER}</td><td class="n">45 000</td></tr>', report)
    assert "sur un objectif de 100" in report
