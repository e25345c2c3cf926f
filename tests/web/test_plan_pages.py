"""The plan pages over HTTP: form checks, the queued plan, its result and downloads."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from rq import SimpleWorker
from web_site import Site, csrf_of, make_site

from maillage.jobs.diagnosis import DIAGNOSIS
from maillage.jobs.queue import JobSettings
from maillage.jobs.results import write_maps

MEUSE = {
    "territoire": "departement:55",
    "profession": "generaliste",
    "methode": "apl",
    "sites": "3",
    "objectif": "underserved",
    "minutes": "10",
}


@pytest.fixture
def worker_site(tmp_path: Path, job_settings: JobSettings) -> Iterator[Site]:
    built = make_site(tmp_path, job_settings)
    yield built
    built.app.state.engine.dispose()


def test_a_plan_runs_as_a_job_and_shows_before_and_after(worker_site: Site) -> None:
    client = worker_site.logged_in("planner")
    token = csrf_of(client.get("/plans/nouveau").text)
    response = client.post("/plans", data=MEUSE | {"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    job_page = response.headers["location"]
    assert "Étapes terminées : 0 sur 14" in client.get(job_page).text

    queue = worker_site.app.state.job_queue
    SimpleWorker([queue], connection=queue.connection).work(burst=True)

    assert client.get(f"{job_page}/progression").headers["HX-Refresh"] == "true"
    page = client.get(job_page).text
    for text in ("Plan de 3 sites — Meuse (55)", "Avant : diagnostic", "Après : simulation"):
        assert text in page
    assert "SIMULATION" in page and "SYNTHÉTIQUE" in page
    assert page.count('class="site"') == 6
    access_map_link = f'<a href="/carte?plan={job_page.rsplit("/", 1)[1]}">'
    assert access_map_link not in page  # no diagnosis has drawn an access map yet
    diagnosis = DIAGNOSIS.directory(worker_site.files_dir, uuid.uuid4().hex)
    diagnosis.mkdir(parents=True)
    write_maps(diagnosis, [])
    assert access_map_link in client.get(job_page).text
    sites = list(csv.DictReader(io.StringIO(client.get(f"{job_page}/telecharger/csv").text)))
    assert [s["rank"] for s in sites] == ["1", "2", "3"]
    for site in sites:
        assert site["name"] in page
    impact = client.get(f"{job_page}/telecharger/impact").text.splitlines()[0]
    assert "access_before" in impact and "access_after" in impact
    geojson = client.get(f"{job_page}/telecharger/geojson")
    assert geojson.headers["content-type"].startswith("application/geo+json")
    assert geojson.json()["type"] == "FeatureCollection" and geojson.json()["features"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sites": "0"}, "nombre de sites"),
        ({"sites": "trois"}, "nombre de sites"),
        ({"minutes": "-5"}, "portée"),
        ({"objectif": "magic"}, "objectif"),
        ({"territoire": "lune"}, "territoire"),
    ],
)
def test_the_plan_form_explains_bad_values(
    worker_site: Site, change: dict[str, str], message: str
) -> None:
    client = worker_site.logged_in("coordinator")
    token = csrf_of(client.get("/plans/nouveau").text)
    response = client.post("/plans", data=MEUSE | change | {"csrf_token": token})
    assert response.status_code == 422
    assert message in response.text
    assert worker_site.app.state.job_queue.count == 0


def test_planning_is_for_analysts_only(site: Site) -> None:
    client = site.logged_in("site-professional")
    token = csrf_of(client.get("/").text)
    assert client.get("/plans/nouveau").status_code == 403
    assert client.post("/plans", data=MEUSE | {"csrf_token": token}).status_code == 403
