"""The site's bookings and availability in headless Chromium, on PostgreSQL right after
``maillage demo seed`` (its own ANALYZE, none by hand): the demo nurse moves and cancels
teleconsultations from her site's list and prints it; the demo doctor previews a weekly template
and creates its slots. axe-core checks each page; the site's list is saved as screenshots under
the test's ``artefacts`` folder (not committed)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser_support import LOCAL_HOSTS, TABLET, LiveServer, fits_a_tablet, serious_violations
from playwright.sync_api import Browser, Page, Route, expect
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from web_site import Site, make_site

from maillage.demo.seed import seed
from maillage.jobs.queue import JobSettings

SCALE = 0.02


@pytest.fixture(scope="module")
def demo(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    """A live server on a fresh PostgreSQL database holding the demo network, and each demo
    account's password by name."""
    server = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"{make_url(postgres_url).database}_site"
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    folder = tmp_path_factory.mktemp("demo")
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    site: Site | None = None
    try:
        site = make_site(folder, JobSettings(redis_url="redis://127.0.0.1:1/0"), database_url=url)
        state = site.app.state
        seed(state.sessions, state.settings, folder / "accounts.txt", scale=SCALE)
        passwords = {}
        for line in (folder / "accounts.txt").read_text().splitlines()[1:]:
            _role, email, password = line.split("\t")
            passwords[email.removeprefix("demo-").removesuffix("@maillage.invalid")] = password
        with LiveServer(site) as live:
            yield live.url, passwords
    finally:
        if site is not None:
            site.app.state.engine.dispose()
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


@pytest.fixture
def page(browser: Browser, demo: tuple[str, dict[str, str]]) -> Iterator[Page]:
    """A tablet-sized French page on the demo server; outside requests are blocked and fail."""
    outside: list[str] = []

    def only_localhost(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context = browser.new_context(
        base_url=demo[0], viewport=TABLET, locale="fr-FR", accept_downloads=True
    )
    context.route("**/*", only_localhost)
    opened = context.new_page()
    yield opened
    context.close()
    assert not outside, f"the page fetched from outside localhost: {outside}"


@pytest.fixture
def artefacts(tmp_path: Path) -> Path:
    folder = tmp_path / "artefacts"
    folder.mkdir()
    return folder


def log_in(page: Page, demo: tuple[str, dict[str, str]], account: str) -> None:
    page.goto("/")
    page.get_by_label("Adresse électronique").fill(f"demo-{account}@maillage.invalid")
    page.keyboard.press("Tab")
    page.keyboard.type(demo[1][account])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Bienvenue")).to_be_visible()


def test_the_nurse_moves_cancels_and_prints_from_the_sites_list(
    page: Page, demo: tuple[str, dict[str, str]], artefacts: Path
) -> None:
    log_in(page, demo, "site-professional")
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
    log_in(page, demo, "practitioner")
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
