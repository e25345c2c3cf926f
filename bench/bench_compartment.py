"""Care-role searches beside the admin's on the same data: ``Observation?_count=10``.

A fresh PostgreSQL database is seeded in bulk with a SYNTHETIC network: 50 sites each with its
organisation, 200 practitioners, 15,000 patients registered at a site's organisation, each with
a teleconsultation at their site with a practitioner (appointment and encounter) and 15
weighings: 270,300 resources. Patient ``n`` is at site ``n mod 50`` with practitioner
``n div 50 mod 200``: the site professional of site 0 sees 300 patients, the practitioner
``doc-0`` 100 of all sites. Each principal's search then runs through the repository, access
policy and audit as in production, RUNS times after a warm-up: the admin's median is the anchor,
and a site professional's and a practitioner's are printed as ratios of it (target ≤ 2×: a care
role's search must not read the network's whole search index, as it once did, 12–21 s against
0.15 s for an admin).

Environment: ``MAILLAGE_BENCH_POSTGRES`` (server URL, default the test server on
127.0.0.1:5432).
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from collections.abc import Iterator
from typing import Any

from bench.bench_booking import bulk_store, fresh_database
from maillage.care.principal import Principal, Role
from maillage.care.repository import Repository
from maillage.config import Settings
from maillage.store.database import make_engine, session_factory, upgrade

SITES, DOCTORS, PATIENTS, WEIGHINGS = 50, 200, 15_000, 15
RUNS = 7
TARGET_RATIO = 2.0
SEARCH = [("_count", "10")]
Body = dict[str, Any]


def network(patients: int, seed: int = 14) -> Iterator[Body]:
    """The SYNTHETIC network: registry first, then each patient's records."""
    draw = random.Random(seed)
    for n in range(SITES):
        yield {"resourceType": "Organization", "id": f"org-{n}", "name": f"MSP {n} SYNTHÉTIQUE"}
        yield {
            "resourceType": "Location",
            "id": f"site-{n}",
            "name": f"Site {n} SYNTHÉTIQUE",
            "managingOrganization": {"reference": f"Organization/org-{n}"},
        }
    for n in range(DOCTORS):
        yield {"resourceType": "Practitioner", "id": f"doc-{n}", "name": [{"family": f"D{n}"}]}
    for n in range(patients):  # each practitioner sees patients of every site
        yield from _records(f"pat-{n}", n % SITES, n // SITES % DOCTORS, draw)


def _records(patient: str, site: int, doctor: int, draw: random.Random) -> Iterator[Body]:
    subject = {"reference": f"Patient/{patient}"}
    yield {
        "resourceType": "Patient",
        "id": patient,
        "name": [{"family": "SYNTHÉTIQUE", "given": [patient]}],
        "managingOrganization": {"reference": f"Organization/org-{site}"},
    }
    day = f"2026-{1 + draw.randrange(12):02d}-{1 + draw.randrange(28):02d}"
    yield {
        "resourceType": "Appointment",
        "id": f"visit-{patient}",
        "status": "booked",
        "start": f"{day}T10:00:00+01:00",
        "end": f"{day}T10:20:00+01:00",
        "participant": [
            {"actor": subject, "status": "accepted"},
            {"actor": {"reference": f"Practitioner/doc-{doctor}"}, "status": "accepted"},
            {"actor": {"reference": f"Location/site-{site}"}, "status": "accepted"},
        ],
    }
    yield {
        "resourceType": "Encounter",
        "id": f"consult-{patient}",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "VR"},
        "subject": subject,
        "participant": [{"individual": {"reference": f"Practitioner/doc-{doctor}"}}],
        "location": [{"location": {"reference": f"Location/site-{site}"}}],
    }
    for k in range(WEIGHINGS):
        yield {
            "resourceType": "Observation",
            "id": f"weight-{patient}-{k}",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "subject": subject,
            "effectiveDateTime": f"2026-01-01T08:{k:02d}:00+01:00",
            "valueQuantity": {"value": round(draw.uniform(50, 110), 1), "unit": "kg"},
        }


PRINCIPALS = {
    "admin": Principal(1, "admin@bench.invalid", Role.ADMIN),
    "site professional": Principal(
        2,
        "ide@bench.invalid",
        Role.SITE_PROFESSIONAL,
        site="Location/site-0",
        organization="Organization/org-0",
    ),
    "practitioner": Principal(
        3, "dr@bench.invalid", Role.PRACTITIONER, practitioner="Practitioner/doc-0"
    ),
}


def measure(url: str, settings: Settings, runs: int = RUNS) -> dict[str, dict[str, float]]:
    """Each principal's median and best milliseconds for the search, and the matches it sees."""
    engine = make_engine(url)
    sessions = session_factory(engine)
    found: dict[str, dict[str, float]] = {}
    for name, principal in PRINCIPALS.items():
        repository = Repository(sessions, settings, principal, address="bench")
        total = repository.search("Observation", SEARCH).total  # warm-up
        seconds = []
        for _ in range(runs):
            began = time.perf_counter()
            repository.search("Observation", SEARCH)
            seconds.append(time.perf_counter() - began)
        found[name] = {
            "median_ms": 1000 * statistics.median(seconds),
            "best_ms": 1000 * min(seconds),
            "total": total,
        }
    engine.dispose()
    return found


def main() -> None:
    with fresh_database("maillage_bench_compartment") as server_url:
        url = server_url.render_as_string(hide_password=False)
        settings = Settings(database_url=url, secret_key="bench-" + uuid.uuid4().hex * 2)
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        began = time.perf_counter()
        bulk_store(url, network(PATIENTS), settings)
        resources = 2 * SITES + DOCTORS + PATIENTS * (3 + WEIGHINGS)
        print(f"seeded {resources:,} SYNTHETIC resources in {time.perf_counter() - began:.0f} s")
        found = measure(url, settings)
    anchor = found["admin"]["median_ms"]
    print(f"Observation?_count=10 through the repository, median (best) of {RUNS} runs:")
    for name, figures in found.items():
        ratio = figures["median_ms"] / anchor
        verdict = "ok" if ratio <= TARGET_RATIO else "MISSED"
        print(
            f"  {name}: {figures['median_ms']:.1f} ms ({figures['best_ms']:.1f}),"
            f" {int(figures['total']):,} matches, "
            + ("the anchor" if name == "admin" else f"{ratio:.2f} × admin ")
            + ("" if name == "admin" else f"(target ≤ {TARGET_RATIO:.0f} ×) {verdict}")
        )


if __name__ == "__main__":
    main()
