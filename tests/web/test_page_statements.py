"""The care pages send a number of SQL statements that does not grow with the network's size:
the demo is seeded at two scales (ten times more patients, teleconsultations and télé-
expertises at the second) and each page is counted on both, once its session is warm, on
SQLite and on PostgreSQL.

The pages: the booking form and the site's bookings (the nurse), the doctor's day and their
availability (the remote doctor), the network's activity (the coordinator). So that the day's
lists grow too, each scale adds that many more teleconsultations to the demo doctor's day at
the nurse's site (2, then 12), booked by the coordinator through the repository."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_site import Site, counted, fresh_database, login, make_site

from maillage.care.principal import Principal, Role
from maillage.care.repository import Repository, instant
from maillage.demo.seed import ACCOUNTS, seed
from maillage.jobs.queue import JobSettings

SCALES = {0.01: 2, 0.1: 12}
"""Seed scale → teleconsultations added to the demo doctor's day."""
LINKS = {name: links for name, _, links in ACCOUNTS}
#: Each page and the demo account that opens it.
PAGES = {
    "booking form": ("site-professional", "/teleconsultations/nouvelle"),
    "site's bookings": ("site-professional", "/site/rendez-vous"),
    "doctor's day": ("practitioner", "/consultations"),
    "availability": ("practitioner", "/disponibilites?agenda={agenda}"),
    "network activity": ("coordinator", "/reseau"),
}


def seeded(folder: Path, scale: float, **settings: str) -> tuple[Site, dict[str, str]]:
    """A demo network at ``scale`` and each demo account's e-mail → password."""
    site = make_site(folder, JobSettings(redis_url="redis://127.0.0.1:1/0"), **settings)
    state = site.app.state
    seed(state.sessions, state.settings, folder / "accounts.txt", scale=scale)
    lines = (folder / "accounts.txt").read_text().splitlines()[1:]
    return site, dict(line.split("\t")[1:] for line in lines)


def busier(site: Site, extra: int) -> None:
    """``extra`` teleconsultations today from 06:00, 20 minutes each, of the demo doctor at
    the nurse's site, for as many of the site's patients."""
    state = site.app.state
    coordinator = Principal(0, "statements@maillage.invalid", Role.COORDINATOR)
    repository = Repository(state.sessions, state.settings, coordinator)
    nurse, doctor = LINKS["site-professional"], LINKS["practitioner"]["practitioner"]
    past = repository.search_all("Appointment", [("location", nurse["site"])])
    patients = sorted(
        {
            actor["reference"]
            for row in past
            for p in row.body["participant"]
            if (actor := p.get("actor") or {}).get("reference", "").startswith("Patient/")
        }
    )[:extra]
    assert len(patients) == extra, "the demo site has too few patients"
    zone = state.settings.zone
    first = datetime.combine(datetime.now(zone).date(), time(6), zone)
    with repository.writing() as work:
        for number, patient in enumerate(patients):
            start = first + timedelta(minutes=20 * number)
            people = [patient, doctor, nurse["practitioner"], nurse["site"]]
            work.save(
                {
                    "resourceType": "Appointment",
                    "status": "booked",
                    "description": "Téléconsultation assistée (SYNTHETIC)",
                    "start": instant(start),
                    "end": instant(start + timedelta(minutes=20)),
                    "participant": [
                        {"actor": {"reference": who}, "status": "accepted"} for who in people
                    ],
                }
            )


def statements(site: Site, passwords: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Per page, the statements of its second view and the page's length."""
    clients: dict[str, TestClient] = {}
    for account in {account for account, _ in PAGES.values()}:
        email = f"demo-{account}@maillage.invalid"
        clients[account] = site.client()
        login(clients[account], email, passwords[email])
    first = re.search(
        r'<option value="([^"]+)"', clients["practitioner"].get("/disponibilites").text
    )
    assert first, "the demo doctor has no schedule to set"
    found = {}
    for name, (account, path) in PAGES.items():
        url = path.format(agenda=first.group(1))
        assert clients[account].get(url).status_code == 200, url  # warm: session, principal
        with counted(site) as sent:
            page = clients[account].get(url)
        assert page.status_code == 200, url
        found[name] = (len(sent), len(page.text))
    return found


def test_the_larger_scale_shows_more_on_the_days_lists(
    counts: dict[float, dict[str, tuple[int, int]]],
) -> None:
    small, large = SCALES
    for page in ("site's bookings", "doctor's day"):
        assert counts[large][page][1] > counts[small][page][1], page


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def counts(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[float, dict]]:
    """Per scale, each page's statements and length, on each database."""
    found = {}
    with ExitStack() as stack:
        for scale in SCALES:
            settings = {}
            if request.param == "postgresql":
                postgres_url = request.getfixturevalue("postgres_url")
                suffix = f"statements_{str(scale).replace('.', '')}"
                settings["database_url"] = stack.enter_context(fresh_database(postgres_url, suffix))
            folder = tmp_path_factory.mktemp(f"scale{scale}")
            site, passwords = seeded(folder, scale, **settings)
            try:
                busier(site, SCALES[scale])
                found[scale] = statements(site, passwords)
            finally:
                site.app.state.engine.dispose()
    yield found


@pytest.mark.parametrize("page", list(PAGES))
def test_statements_do_not_grow_with_the_networks_size(
    counts: dict[float, dict[str, tuple[int, int]]], page: str
) -> None:
    small, large = (counts[scale][page] for scale in SCALES)
    low, high = SCALES
    print(f"{page}: {small[0]} statements at scale {low}, {large[0]} at scale {high}")
    assert small[0] == large[0]
    assert small[0] <= 60  # a handful of audited searches (7 statements each), never one per row
