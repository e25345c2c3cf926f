"""Browser-test support: Debian's Chromium flags, a live uvicorn server, screenshots,
axe-core, keyboard log-in. The fixtures built on it are in ``conftest.py``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn
from playwright.sync_api import Browser, Page, Route, expect
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from web_site import PASSWORD, Site, make_site

from maillage.demo.seed import seed
from maillage.http_protocol import CoalescedHttpTools
from maillage.jobs.queue import JobSettings
from maillage.web.assets import AXE

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
PORTRAIT_TABLET = {"width": 768, "height": 1024}
JOB_TIMEOUT_MS = 120_000


class LiveServer:
    """uvicorn serving ``site.app`` in a thread, on a socket bound before start (no port race)."""

    def __init__(self, site: Site) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        # The protocol ``maillage serve`` runs: the browsers read what it writes.
        config = uvicorn.Config(
            site.app, log_level="warning", lifespan="off", http=CoalescedHttpTools
        )
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


def shoot(page: Page, tmp_path: Path, name: str) -> None:
    folder = tmp_path / "captures"
    folder.mkdir(exist_ok=True)
    page.screenshot(path=folder / f"{name}.png", full_page=True)


def fits_a_tablet(page: Page) -> None:
    """The page needs no sideways scrolling on a tablet held upright, then as the test holds it
    (landscape)."""
    for size in (PORTRAIT_TABLET, TABLET):
        page.set_viewport_size(size)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{page.url} is {overflow} px too wide at {size['width']} px"


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


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Log in with the keyboard only: type, Tab to the password, Enter to submit."""
    page.goto("/")
    page.get_by_label("Adresse électronique").fill(email)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Bienvenue")).to_be_visible()


@contextmanager
def local_page(
    browser: Browser, base_url: str, *, ignore_https_errors: bool = False
) -> Iterator[Page]:
    """A tablet-sized French page on ``base_url``; a request leaving localhost is blocked and
    fails the test (``ignore_https_errors``: for a local provider's test CA)."""
    outside: list[str] = []

    def only_localhost(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context = browser.new_context(
        base_url=base_url,
        viewport=TABLET,
        locale="fr-FR",
        accept_downloads=True,
        ignore_https_errors=ignore_https_errors,
    )
    context.route("**/*", only_localhost)
    yield context.new_page()
    context.close()
    assert not outside, f"the page fetched from outside localhost: {outside}"


def demo_database(postgres_url: str, name: str) -> str:
    """The URL of the demo database ``name``, beside the test database."""
    database = f"{make_url(postgres_url).database}_{name}"
    return make_url(postgres_url).set(database=database).render_as_string(hide_password=False)


@contextmanager
def demo_server(
    postgres_url: str, folder: Path, name: str, scale: float
) -> Iterator[tuple[str, dict[str, str]]]:
    """A live server on a fresh PostgreSQL database ``name`` holding the demo network (seeded
    at ``scale``, its own ANALYZE and none by hand), and each demo account's password by
    account name; the database is dropped afterwards."""
    server = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    url = demo_database(postgres_url, name)
    database = make_url(url).database
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
    site: Site | None = None
    try:
        site = make_site(folder, JobSettings(redis_url="redis://127.0.0.1:1/0"), database_url=url)
        state = site.app.state
        seed(state.sessions, state.settings, folder / "accounts.txt", scale=scale)
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
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        server.dispose()


def demo_log_in(page: Page, demo: tuple[str, dict[str, str]], account: str) -> None:
    """Log in as one of the demo's accounts (``demo_server``'s passwords)."""
    log_in(page, f"demo-{account}@maillage.invalid", demo[1][account])


@contextmanager
def coordinator_api(demo: tuple[str, dict[str, str]]) -> Iterator[httpx.Client]:
    """An API client of the demo server, logged in as the demo's coordinator."""
    base, passwords = demo
    with httpx.Client(base_url=base) as api:
        login = {
            "username": "demo-coordinator@maillage.invalid",
            "password": passwords["coordinator"],
        }
        token = api.post("/auth/token", data=login).json()["access_token"]
        api.headers["Authorization"] = f"Bearer {token}"
        yield api
