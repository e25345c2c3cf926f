"""The main flows in headless Chromium (Debian's, driven by Playwright), with axe-core.

The app runs under uvicorn on a free loopback port and a real ``maillage worker`` process runs
the jobs; any request a page makes to a host other than localhost fails the test. Screenshots
go to each test's temporary directory (pytest keeps the last runs' under its basetemp).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright
from web_site import PASSWORD, Site, location, make_site, store

from maillage.jobs.queue import JobSettings
from maillage.web.assets import AXE, VENDOR

CHROMIUM = Path(os.environ.get("MAILLAGE_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
TABLET = {"width": 1024, "height": 768}
JOB_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def browser(missing_service: Callable[[str], NoReturn]) -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        missing_service(f"Chromium not found at {CHROMIUM}")
    for needed in (AXE, VENDOR / "htmx.min.js"):
        assert needed.is_file(), f"{needed} missing: run `python -m maillage.web.assets`"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class LiveServer:
    """uvicorn serving ``site.app`` in a thread, on a socket bound before start (no port race)."""

    def __init__(self, site: Site) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(site.app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


def start_worker(settings: JobSettings, log: Path) -> subprocess.Popen[bytes]:
    """``maillage worker`` as its own process, as in production."""
    env = os.environ | {
        "MAILLAGE_REDIS_URL": settings.redis_url,
        "MAILLAGE_JOBS_QUEUE": settings.jobs_queue,
    }
    code = "from maillage.jobs.commands import worker; worker()"
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=out, stderr=out)


@pytest.fixture
def live(tmp_path: Path, job_settings: JobSettings) -> Iterator[tuple[Site, str]]:
    """The site, served, with a worker on its private queue."""
    site = make_site(tmp_path, job_settings)
    worker = start_worker(job_settings, tmp_path / "worker.log")
    try:
        with LiveServer(site) as server:
            yield site, server.url
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        site.app.state.engine.dispose()


@pytest.fixture
def page(browser: Browser, live: tuple[Site, str]) -> Iterator[Page]:
    """A tablet-sized French page on the live site; outside requests are blocked and fail."""
    outside: list[str] = []

    def only_localhost(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context = browser.new_context(
        base_url=live[1], viewport=TABLET, locale="fr-FR", accept_downloads=True
    )
    context.route("**/*", only_localhost)
    opened = context.new_page()
    yield opened
    context.close()
    assert not outside, f"the page fetched from outside localhost: {outside}"


def shoot(page: Page, tmp_path: Path, name: str) -> None:
    folder = tmp_path / "captures"
    folder.mkdir(exist_ok=True)
    page.screenshot(path=folder / f"{name}.png", full_page=True)


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the current page.

    axe is evaluated through the DevTools protocol, which the pages' CSP (rightly) does not
    let a script tag do.
    """
    page.evaluate(f"() => {{ {AXE.read_text(encoding='utf-8')} }}")
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        targets: v.nodes.slice(0, 3).map(n => n.target.join(" "))}))"""
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


def log_in(page: Page, email: str) -> None:
    """Log in with the keyboard only: type, Tab to the password, Enter to submit."""
    page.goto("/")
    page.get_by_label("Adresse électronique").fill(email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Bienvenue")).to_be_visible()


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
            "Registre des sites",
        ]
    )
    assert serious_violations(page) == []

    store(site, location("carignan", "Cabine de Carignan", "Carignan"))
    nav.get_by_role("link", name="Registre des sites").click()
    page.get_by_label("Commune").fill("carig")
    page.get_by_label("Commune").press("Enter")
    page.get_by_role("link", name="Cabine de Carignan").click()
    expect(page.get_by_role("heading", name="Cabine de Carignan")).to_be_visible()
    assert serious_violations(page) == []
    shoot(page, tmp_path, "site")

    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()


def test_a_patient_has_no_planner_pages(page: Page, live: tuple[Site, str], tmp_path: Path) -> None:
    site, _url = live
    log_in(page, site.user("patient"))
    nav = page.get_by_role("navigation", name="Navigation principale")
    expect(nav.get_by_role("link")).to_have_text(["Accueil"])
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
    expect(page.get_by_role("img", name="France métropolitaine")).to_be_visible()
    assert page.locator(".cartes path").count() >= 490
    expect(page.get_by_text("SYNTHETIC —")).to_be_visible()
    assert serious_violations(page) == []
    shoot(page, tmp_path, "resultat")

    with page.expect_download() as download:
        page.get_by_role("link", name="Résultats par commune (CSV)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    header = saved.read_text(encoding="utf-8").splitlines()[0].replace('"', "")
    assert header.startswith("code_commune,nom,departement")

    page.get_by_role("link", name="Carte d'accès").click()
    expect(page.get_by_role("heading", name="Accès aux soins — Meuse (55)")).to_be_visible()


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
