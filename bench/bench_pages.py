"""The care pages' latency on PostgreSQL right after ``maillage demo seed``, as ratios to a static
file of the same server in the same run.

Creates a fresh database, migrates it and seeds the SYNTHETIC demo network (scale
``MAILLAGE_BENCH_PAGES_SCALE``, default 0.1) exactly as ``maillage demo seed`` does, so the
planner's statistics are whatever the seed leaves (no ANALYZE by hand); starts ``maillage
serve`` on a free loopback port; logs the demo nurse, doctor and coordinator in; then requests,
round after round, the static stylesheet and each page once (one client, sequential, so that
the pages and the static file meet the same machine state). Prints each page's p95 and its
ratio to the static file's p95: a machine-independent figure of what a page costs beyond
serving a file. The database is dropped at the end.

Environment: ``MAILLAGE_BENCH_POSTGRES`` (server URL, default the test server on
127.0.0.1:5432), ``MAILLAGE_BENCH_PAGES_SCALE``, ``MAILLAGE_BENCH_PAGES_ROUNDS`` (default 60).
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.bench_booking import fresh_database, running_server
from maillage.config import Settings
from maillage.demo.seed import seed
from maillage.store.database import make_engine, session_factory, upgrade

SCALE = float(os.environ.get("MAILLAGE_BENCH_PAGES_SCALE", "0.1"))
ROUNDS = int(os.environ.get("MAILLAGE_BENCH_PAGES_ROUNDS", "60"))
STATIC = "/static/app.css"
#: Each page and the demo account that opens it (``{agenda}``: the doctor's own schedule).
PAGES = {
    "booking form": ("site-professional", "/teleconsultations/nouvelle"),
    "site's bookings": ("site-professional", "/site/rendez-vous"),
    "doctor's day": ("practitioner", "/consultations"),
    "availability": ("practitioner", "/disponibilites?agenda={agenda}"),
    "network activity (/reseau)": ("coordinator", "/reseau"),
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def logged_in(base: str, email: str, password: str) -> httpx.Client:
    """A client holding the account's session cookie."""
    client = httpx.Client(base_url=base, timeout=600)
    found = CSRF.search(client.get("/connexion").text)
    assert found, "the login page has no CSRF token"
    form = {"email": email, "password": password, "csrf_token": found.group(1)}
    answer = client.post("/connexion", data=form)
    if answer.status_code != 303:
        raise RuntimeError(f"login of {email} refused: {answer.status_code}")
    return client


def p95(samples: list[float]) -> float:
    """The 95th percentile (inclusive method) of latencies in milliseconds."""
    return statistics.quantiles(samples, n=20, method="inclusive")[-1]


def measure(base: str, passwords: dict[str, str]) -> dict[str, list[float]]:
    """Milliseconds of each request, per page and for the static file, over ``ROUNDS``."""
    clients = {
        account: logged_in(base, f"demo-{account}@maillage.invalid", passwords[account])
        for account in {account for account, _ in PAGES.values()}
    }
    agenda = re.search(
        r'<option value="([^"]+)"', clients["practitioner"].get("/disponibilites").text
    )
    assert agenda, "the demo doctor has no schedule"
    targets = {"static file": (clients["coordinator"], STATIC)} | {
        name: (clients[account], path.format(agenda=agenda.group(1)))
        for name, (account, path) in PAGES.items()
    }
    times: dict[str, list[float]] = {name: [] for name in targets}
    for name, (client, path) in targets.items():  # the first view of each is not counted
        if client.get(path).status_code != 200:
            raise RuntimeError(f"{name} ({path}) did not answer 200")
    for _ in range(ROUNDS):
        for name, (client, path) in targets.items():
            started = time.perf_counter()
            answer = client.get(path)
            times[name].append(1000 * (time.perf_counter() - started))
            if answer.status_code != 200:
                raise RuntimeError(f"{name} ({path}) answered {answer.status_code}")
    for client in clients.values():
        client.close()
    return times


def main() -> None:
    started = time.perf_counter()
    with fresh_database("maillage_pages") as server_url, tempfile.TemporaryDirectory() as tmp:
        url = server_url.render_as_string(hide_password=False)
        workdir = Path(tmp)
        settings = Settings(database_url=url, secret_key="pages-" + "z" * 40)
        engine = make_engine(url)
        upgrade(engine)
        seeded_at = time.perf_counter()
        accounts = workdir / "accounts.txt"
        report = seed(session_factory(engine), settings, accounts, scale=SCALE)
        engine.dispose()
        print(
            f"demo seeded at scale {SCALE} in {time.perf_counter() - seeded_at:.1f} s "
            f"({sum(report.counts.values())} resources), no ANALYZE by hand"
        )
        passwords = {}
        for line in accounts.read_text().splitlines()[1:]:
            _role, email, password = line.split("\t")
            passwords[email.removeprefix("demo-").removesuffix("@maillage.invalid")] = password
        with running_server(url, workdir) as (base, _pid):
            times = measure(base, passwords)
    static = p95(times["static file"])
    print(f"{ROUNDS} rounds, one sequential client; p95 of each, and ÷ the static file's p95")
    for name, samples in times.items():
        ratio = p95(samples) / static
        print(f"  {name:<28} p95 {p95(samples):8.1f} ms  {ratio:6.1f} ×")
    print(f"total {time.perf_counter() - started:.0f} s")
