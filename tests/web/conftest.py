"""Fixtures of the web tests: the site without a queue, a private Redis queue, and the
browser ones (Chromium, the live site with its worker, a guarded tablet-sized page, the demo
network served on PostgreSQL)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveServer,
    demo_server,
    local_page,
    start_worker,
)
from playwright.sync_api import Browser, Page, sync_playwright
from web_site import Site, make_site

from maillage.jobs.queue import JobSettings
from maillage.web.assets import AXE, VENDOR


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """Pages whose queue points at a closed port: for everything that needs no worker."""
    built = make_site(tmp_path, JobSettings(redis_url="redis://127.0.0.1:1/0"))
    yield built
    built.app.state.engine.dispose()


@pytest.fixture
def site_on_each_database(database_url: str, tmp_path: Path) -> Iterator[Site]:
    """Like ``site``, once on SQLite and once on PostgreSQL (skipped without it, failing under
    CI=true): modules whose pages read the store override ``site`` with it."""
    built = make_site(
        tmp_path, JobSettings(redis_url="redis://127.0.0.1:1/0"), database_url=database_url
    )
    yield built
    built.app.state.engine.dispose()


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
    with local_page(browser, live[1]) as opened:
        yield opened


@pytest.fixture(scope="module")
def demo(
    request: pytest.FixtureRequest, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    """The demo network (scale 0.02) on a fresh PostgreSQL database named by the module's
    ``DEMO_DATABASE``, served; passwords by account."""
    name = request.module.DEMO_DATABASE
    with demo_server(postgres_url, tmp_path_factory.mktemp("demo"), name, 0.02) as served:
        yield served


@pytest.fixture
def demo_page(browser: Browser, demo: tuple[str, dict[str, str]]) -> Iterator[Page]:
    """A guarded tablet-sized page on the demo's server."""
    with local_page(browser, demo[0]) as opened:
        yield opened
