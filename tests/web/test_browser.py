"""The main flows in headless Chromium (Debian's, driven by Playwright), with axe-core.

The app runs under uvicorn on a free loopback port and a real ``maillage worker`` process runs
the jobs; any request a page makes to a host other than localhost fails the test. Screenshots
go to each test's temporary directory (pytest keeps the last runs' under its basetemp).
"""

from __future__ import annotations

from pathlib import Path

from browser_support import JOB_TIMEOUT_MS, fits_a_tablet, log_in, serious_violations, shoot
from playwright.sync_api import Page, expect
from web_site import PASSWORD, Site, location, store


def test_log_in_and_see_only_the_planners_menu(
    page: Page, live: tuple[Site, str], tmp_path: Path
) -> None:
    site, url = live
    page.goto("/carte")
    expect(page).to_have_url(f"{url}/connexion?suivant=%2Fcarte")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    assert serious_violations(page) == []
    shoot(page, tmp_path, "connexion")

    page.get_by_label("Adresse électronique").fill(site.user("planner"))
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(f"{url}/carte")
    expect(page.get_by_role("heading", name="Carte d'accès aux soins")).to_be_visible()
    nav = page.get_by_role("navigation", name="Navigation principale")
    expect(nav.get_by_role("link")).to_have_text(
        [
            "Accueil",
            "Carte d'accès",
            "Lancer un diagnostic",
            "Planifier des sites",
            "Jeux de données",
            "Registre des sites",
            "Activité du réseau",
            "Projets de la feuille de route",
        ]
    )
    assert serious_violations(page) == []

    position = {"latitude": 49.63, "longitude": 5.17}
    store(site, location("carignan", "Cabine de Carignan", "Carignan", position=position))
    nav.get_by_role("link", name="Registre des sites").click()
    expect(page.get_by_role("img", name="Ardennes (08)")).to_be_visible()
    expect(page.locator(".registre circle.site")).to_have_count(1)
    assert serious_violations(page) == []
    shoot(page, tmp_path, "registre")
    fits_a_tablet(page)
    page.get_by_label("Commune").fill("carig")
    page.get_by_label("Commune").press("Enter")
    page.get_by_role("link", name="Cabine de Carignan").click()
    expect(page.get_by_role("heading", name="Cabine de Carignan")).to_be_visible()
    assert serious_violations(page) == []
    shoot(page, tmp_path, "site")
    fits_a_tablet(page)

    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()


def test_a_patient_has_no_planner_pages(page: Page, live: tuple[Site, str], tmp_path: Path) -> None:
    site, _url = live
    log_in(page, site.user("patient"))
    nav = page.get_by_role("navigation", name="Navigation principale")
    expect(nav.get_by_role("link")).to_have_text(["Accueil", "Mon espace"])
    assert serious_violations(page) == []
    page.goto("/carte")
    expect(page.get_by_role("alert")).to_contain_text("pas accessible avec votre rôle")
    shoot(page, tmp_path, "patient-refus")


def test_run_a_diagnosis_job_to_its_map(page: Page, live: tuple[Site, str], tmp_path: Path) -> None:
    site, url = live
    log_in(page, site.user("planner"))
    page.get_by_role("link", name="Lancer un diagnostic").first.click()
    expect(
        page.get_by_role("heading", name="Lancer un diagnostic d'accès aux soins")
    ).to_be_visible()
    assert serious_violations(page) == []
    page.get_by_label("Territoire").select_option("departement:55")
    page.get_by_label("Profession").select_option("generaliste")
    page.get_by_label("Méthode").select_option("apl")
    shoot(page, tmp_path, "formulaire")
    page.get_by_role("button", name="Lancer le diagnostic").click()

    expect(page.get_by_role("status")).to_contain_text("Étapes terminées")
    assert serious_violations(page) == []
    shoot(page, tmp_path, "progression")
    heading = page.get_by_role("heading", name="Accès aux soins — Meuse (55)")
    expect(heading).to_be_visible(timeout=JOB_TIMEOUT_MS)
    job_url = page.url
    assert job_url.startswith(f"{url}/diagnostics/")
    expect(page.get_by_role("img", name="Meuse (55)")).to_be_visible()
    assert page.locator(".cartes path").count() >= 490
    expect(page.get_by_text("SYNTHÉTIQUE —")).to_be_visible()
    assert serious_violations(page) == []
    shoot(page, tmp_path, "resultat")
    fits_a_tablet(page)

    with page.expect_download() as download:
        page.get_by_role("link", name="Résultats par commune (CSV)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    header = saved.read_text(encoding="utf-8").splitlines()[0].replace('"', "")
    assert header.startswith("code_commune,nom,departement")

    store(site, location("stenay", "MSP de Stenay", "Stenay",
                         position={"latitude": 49.49, "longitude": 5.19}))  # fmt: skip
    page.get_by_role("link", name="Carte d'accès").click()
    expect(page.get_by_role("heading", name="Accès aux soins — Meuse (55)")).to_be_visible()
    legend = page.get_by_role("list", name="Légende des sites")
    expect(legend.get_by_role("listitem")).to_have_text(["Sites existants", "Sites prévus"])
    expect(page.locator(".cartes circle.site")).to_have_count(1)
    assert serious_violations(page) == []
    shoot(page, tmp_path, "carte-sites")


def test_run_a_plan_to_its_before_and_after_maps(
    page: Page, live: tuple[Site, str], tmp_path: Path
) -> None:
    site, _url = live
    log_in(page, site.user("coordinator"))
    nav = page.get_by_role("navigation", name="Navigation principale")
    nav.get_by_role("link", name="Planifier des sites").click()
    assert serious_violations(page) == []
    page.get_by_label("Territoire").select_option("departement:55")
    page.get_by_label("Nombre de nouveaux sites").fill("3")
    page.get_by_label("Objectif").select_option("coverage")
    page.get_by_role("button", name="Lancer la planification").click()

    expect(page.get_by_role("status")).to_contain_text("Étapes terminées")
    heading = page.get_by_role("heading", name="Plan de 3 sites — Meuse (55)")
    expect(heading).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Après : simulation")).to_be_visible()
    expect(
        page.get_by_role("table", name="Nouveaux sites proposés").locator("tbody tr")
    ).to_have_count(3)
    assert serious_violations(page) == []
    shoot(page, tmp_path, "plan")
    fits_a_tablet(page)
