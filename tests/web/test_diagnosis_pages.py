"""The planner's diagnosis pages over HTTP: queue, progress, map, downloads, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rq import SimpleWorker
from web_site import Site, csrf_of, make_site

from maillage.jobs.queue import JobSettings

MEUSE = {"territoire": "departement:55", "profession": "generaliste", "methode": "apl"}


@pytest.fixture
def worker_site(tmp_path: Path, job_settings: JobSettings) -> Iterator[Site]:
    built = make_site(tmp_path, job_settings)
    yield built
    built.app.state.engine.dispose()


def test_a_diagnosis_runs_as_a_job_and_ends_on_its_map(worker_site: Site) -> None:
    client = worker_site.logged_in("planner")
    token = csrf_of(client.get("/diagnostics/nouveau").text)
    response = client.post(
        "/diagnostics", data=MEUSE | {"csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    job_page = response.headers["location"]
    job_id = job_page.rsplit("/", 1)[1]

    waiting = client.get(job_page)
    assert "En attente" in waiting.text
    assert f'hx-get="/diagnostics/{job_id}/progression"' in waiting.text
    assert "HX-Refresh" not in client.get(f"{job_page}/progression").headers

    queue = worker_site.app.state.job_queue
    SimpleWorker([queue], connection=queue.connection).work(burst=True)

    fragment = client.get(f"{job_page}/progression")
    assert fragment.headers["HX-Refresh"] == "true"
    assert "hx-get" not in fragment.text and "7 sur 7" in fragment.text
    result = client.get(job_page)
    assert "Accès aux soins — Meuse (55)" in result.text
    assert result.text.count("<path") >= 490
    assert "SYNTHÉTIQUE" in result.text
    assert "Meuse (55)" in client.get("/carte").text

    table = client.get(f"{job_page}/telecharger/csv")
    assert table.headers["content-type"].startswith("text/csv")
    assert f'filename="diagnostics-csv-{job_id}.csv"' in table.headers["content-disposition"]
    assert table.text.splitlines()[0].replace('"', "").startswith("code_commune,nom,departement")
    geojson = client.get(f"{job_page}/telecharger/geojson").json()
    assert geojson["type"] == "FeatureCollection" and len(geojson["features"]) >= 490
    assert client.get(f"{job_page}/telecharger/parquet").status_code == 404


def test_unknown_choices_are_refused_before_queuing(worker_site: Site) -> None:
    client = worker_site.logged_in("coordinator")
    token = csrf_of(client.get("/diagnostics/nouveau").text)
    form = MEUSE | {"territoire": "departement:99", "methode": "magic", "csrf_token": token}
    response = client.post("/diagnostics", data=form)
    assert response.status_code == 422
    assert "Choisissez un territoire" in response.text and "Choisissez une méthode" in response.text
    assert worker_site.app.state.job_queue.count == 0


def test_the_form_needs_the_csrf_token(site: Site) -> None:
    client = site.logged_in("planner")
    assert client.post("/diagnostics", data=MEUSE).status_code == 403


def test_a_missing_queue_service_is_a_503_page(site: Site) -> None:
    client = site.logged_in("planner")
    token = csrf_of(client.get("/diagnostics/nouveau").text)
    response = client.post("/diagnostics", data=MEUSE | {"csrf_token": token})
    assert response.status_code == 503
    assert "service de calcul" in response.text


@pytest.mark.parametrize("job_id", ["f" * 32, "F" * 32, "nope", "..%2E%2E"])
def test_unknown_jobs_are_404_pages(worker_site: Site, job_id: str) -> None:
    client = worker_site.logged_in("planner")
    for path in (f"/diagnostics/{job_id}", f"/diagnostics/{job_id}/telecharger/csv"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "existe pas" in response.text


def test_a_path_in_the_job_id_reaches_no_file(worker_site: Site) -> None:
    client = worker_site.logged_in("planner")
    assert client.get("/diagnostics/..%2F..%2Fetc/telecharger/csv").status_code == 404


def test_a_patient_cannot_queue_or_download(site: Site) -> None:
    client = site.logged_in("patient")
    token = csrf_of(client.get("/").text)
    assert client.post("/diagnostics", data=MEUSE | {"csrf_token": token}).status_code == 403
    assert client.get(f"/diagnostics/{'a' * 32}/telecharger/csv").status_code == 403
