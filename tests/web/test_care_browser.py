"""Care flows in headless Chromium: the nurse books an assisted teleconsultation, the doctor
marks it done, the specialist answers a télé-expertise and takes one sent to their pool, the
care team reads a follow-up chart and sets an alert rule.

Same live server, worker, outside-request guard and axe-core check as ``test_browser`` (the
fixtures live in ``conftest.py``).
"""

from __future__ import annotations

import re
from pathlib import Path

from browser_support import fits_a_tablet, log_in, serious_violations, shoot
from care_network import (
    build,
    care_team,
    expertise,
    pooled_expertise,
    specialist,
    tomorrow,
    weight,
)
from playwright.sync_api import Page, expect
from web_site import Site, store


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()


def test_book_an_assisted_teleconsultation_and_answer_a_tele_expertise(
    page: Page, live: tuple[Site, str], tmp_path: Path
) -> None:
    site, url = live
    build(site)
    expertise(site)

    log_in(page, site.user("site-professional"))
    nav = page.get_by_role("navigation", name="Navigation principale")
    expect(nav.get_by_role("link")).to_have_text(
        [
            "Accueil",
            "Réserver une téléconsultation",
            "Rendez-vous du site",
            "Patients du site",
            "Mes télé-expertises",
            "Suivi des patients",
        ]
    )
    nav.get_by_role("link", name="Patients du site").click()
    page.get_by_label("Nom (de naissance ou d'usage) ou prénom").fill("dupont")
    page.get_by_role("button", name="Rechercher").click()
    page.get_by_role("link", name=re.compile("^Réserver pour Jeanne Dupont")).click()
    expect(page.get_by_role("heading", name="Réserver une téléconsultation")).to_be_visible()
    assert serious_violations(page) == []
    page.get_by_label("avec Dr Claire Martin").first.check()
    page.get_by_label("Motif de la consultation").fill("Toux persistante")
    shoot(page, tmp_path, "reservation")
    fits_a_tablet(page)
    page.get_by_role("button", name="Réserver").click()

    expect(page.get_by_role("heading", name="Téléconsultation réservée")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Toux persistante")
    room = page.get_by_role("link", name="Ouvrir la salle vidéo (Jitsi Meet)")
    expect(room).to_have_attribute("href", re.compile(r"^https://meet\.jit\.si/maillage-\w{32}$"))
    assert serious_violations(page) == []
    shoot(page, tmp_path, "confirmation")
    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger l'invitation (agenda, ICS)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.read_text(encoding="utf-8").startswith("BEGIN:VCALENDAR")
    log_out(page)

    log_in(page, site.user("practitioner"))
    page.goto(f"{url}/consultations?jour={tomorrow().isoformat()}")
    day = page.get_by_role("table", name="Rendez-vous du jour")
    expect(day).to_contain_text("Jeanne Dupont")
    expect(day).to_contain_text("Réservé")
    assert serious_violations(page) == []
    shoot(page, tmp_path, "journee")
    day.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Téléconsultation de Jeanne Dupont")).to_be_visible()
    expect(page.get_by_label("Nouveau créneau")).to_contain_text("avec Dr Claire Martin")
    assert serious_violations(page) == []
    shoot(page, tmp_path, "consultation")
    fits_a_tablet(page)
    page.get_by_label("Acte réalisé").first.select_option("TCG")
    page.get_by_role("button", name="Consultation réalisée").click()
    expect(page.locator("#statut")).to_have_text("Réalisé")
    expect(page.get_by_role("button", name="Patient absent")).to_have_count(0)
    expect(page.get_by_role("button", name="Envoyer le compte rendu")).to_be_visible()
    assert serious_violations(page) == []
    shoot(page, tmp_path, "consultation-realisee")

    nav = page.get_by_role("navigation", name="Navigation principale")
    nav.get_by_role("link", name="Télé-expertises", exact=True).click()
    page.get_by_role("link", name="Jeanne Dupont").click()
    expect(page.get_by_role("heading", name="Télé-expertise pour Jeanne Dupont")).to_be_visible()
    assert serious_violations(page) == []
    page.get_by_role("button", name="Accepter la demande").click()
    expect(page.get_by_text("Acceptée")).to_be_visible()
    page.get_by_label("Votre réponse ou votre question au demandeur").fill(
        "QT à 460 ms : arrêter l'hydroxyzine, ECG de contrôle dans 8 jours."
    )
    page.get_by_role("button", name="Envoyer la réponse").click()
    expect(page.get_by_role("status")).to_contain_text("Vous avez répondu")
    assert serious_violations(page) == []
    shoot(page, tmp_path, "teleexpertise")
    fits_a_tablet(page)


def test_a_specialist_takes_a_request_sent_to_their_pool(
    page: Page, live: tuple[Site, str], tmp_path: Path
) -> None:
    site, _url = live
    build(site)
    pooled_expertise(site)
    log_in(page, specialist(site, "d2"))
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Télé-expertises", exact=True
    ).click()
    pool = page.get_by_role("table", name="Demandes adressées à votre équipe (1)")
    expect(pool).to_contain_text("Télé-expertise cardiologie")
    expect(pool).to_contain_text("Souffle systolique")
    assert serious_violations(page) == []
    shoot(page, tmp_path, "teleexpertises-equipe")
    pool.get_by_role("button", name="Prendre en charge la demande pour Jeanne Dupont").click()
    expect(page.get_by_role("heading", name="Télé-expertise pour Jeanne Dupont")).to_be_visible()
    expect(page.get_by_text("Acceptée")).to_be_visible()
    expect(page.get_by_role("button", name="Envoyer la réponse")).to_be_visible()
    assert serious_violations(page) == []
    shoot(page, tmp_path, "teleexpertise-prise")


def test_the_care_team_reads_the_follow_up_chart(
    page: Page, live: tuple[Site, str], tmp_path: Path
) -> None:
    site, _url = live
    build(site)
    store(
        site,
        care_team(),
        weight("w1", 2, 80.0),
        weight("w2", 1, 81.4),
    )
    log_in(page, site.user("practitioner"))
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Suivi des patients"
    ).click()
    page.get_by_role("link", name="Jeanne Dupont").click()
    expect(page.get_by_role("heading", name="Suivi de Jeanne Dupont")).to_be_visible()
    expect(page.get_by_text("Aucune alerte ouverte.")).to_be_visible()
    expect(page.get_by_role("img", name="Poids (kg)")).to_be_visible()
    assert serious_violations(page) == []
    shoot(page, tmp_path, "suivi")
    fits_a_tablet(page)
    page.get_by_role("link", name="Ajouter une règle d'alerte").click()
    page.get_by_label("Titre de l'alerte").fill("Poids trop élevé")
    page.get_by_label("Mesure suivie").select_option(label="Poids (kg)")
    page.get_by_label("Alerter au-dessus de").fill("90,5")
    assert serious_violations(page) == []
    shoot(page, tmp_path, "regle")
    page.get_by_role("button", name="Enregistrer la règle").click()
    expect(page.get_by_text("Poids au-dessus de 90,5 kg")).to_be_visible()
