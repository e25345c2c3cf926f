"""The analysis forms run on registered datasets: same results as the CLI, datasets named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from rq import SimpleWorker
from web_site import Site, csrf_of, make_site, registry_site, run_cli, store

from maillage.datasets.catalogue import Catalogue
from maillage.jobs.diagnosis import DIAGNOSIS
from maillage.jobs.plan import PLAN
from maillage.jobs.queue import JobSettings
from maillage.jobs.results import JobResult
from maillage.territory.communes import load_communes

MEUSE = {"territoire": "departement:55", "profession": "generaliste", "methode": "e2sfca"}


@pytest.fixture
def worker_site(tmp_path: Path, job_settings: JobSettings) -> Iterator[Site]:
    built = make_site(tmp_path, job_settings)
    yield built
    built.app.state.engine.dispose()


def _meuse_supply(tmp_path: Path) -> Path:
    """A declared supply CSV (real format) over a few Meuse communes, written by hand."""
    codes = sorted(load_communes().query("departement == '55'").code_commune)[:40:8]
    rows = [
        f"{code},{1 + i / 2},generaliste,{40 + i},{4000 + 100 * i}" for i, code in enumerate(codes)
    ]
    path = tmp_path / "offre-meuse.csv"
    path.write_text("code_commune,fte,profession,age,activity\n" + "\n".join(rows) + "\n")
    return path


def _work(site: Site) -> None:
    queue = site.app.state.job_queue
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def test_forms_run_on_registered_datasets_like_the_cli(worker_site: Site, tmp_path: Path) -> None:
    supply, _ = Catalogue(worker_site.files_dir / "datasets").add(
        _meuse_supply(tmp_path), "supply-csv", label="Offre Meuse", as_of="2025-01-01"
    )
    client = worker_site.logged_in("planner")
    form = client.get("/diagnostics/nouveau").text
    assert f'<option value="{supply.id}">Offre Meuse ({supply.id}, 2025-01-01)</option>' in form
    assert "Offre SYNTHÉTIQUE (par défaut)" in form
    chosen = MEUSE | {"offre": supply.id, "csrf_token": csrf_of(form)}
    response = client.post("/diagnostics", data=chosen, follow_redirects=False)
    assert response.status_code == 303
    with pytest.warns(UserWarning, match="aucun seuil de zonage publié pour e2sfca"):
        _work(worker_site)

    job_id = response.headers["location"].rsplit("/", 1)[1]
    result = JobResult.find(DIAGNOSIS, worker_site.files_dir, job_id)
    assert result is not None
    assert result.summary["datasets"] == [supply.reference()]
    assert "SYNTHÉTIQUE" not in client.get(response.headers["location"]).text
    cli_out = tmp_path / "cli"
    run_cli(
        worker_site,
        "diagnose",
        "--department",
        "55",
        "--method",
        "e2sfca",
        "--supply",
        f"dataset:{supply.id}",
        "--out",
        str(cli_out),
    )
    from_page = pd.read_csv(result.directory / "communes.csv", dtype={"code_commune": str})
    from_cli = pd.read_csv(cli_out / "communes.csv", dtype={"code_commune": str})
    pd.testing.assert_frame_equal(from_page, from_cli)
    assert (from_page.access > 0).any()
    cli_summary = json.loads((cli_out / "summary.json").read_text())
    assert cli_summary["datasets"] == result.summary["datasets"]

    plan_form = client.get("/plans/nouveau").text
    plan = MEUSE | {
        "methode": "apl",
        "offre": supply.id,
        "sites": "2",
        "objectif": "underserved",
        "minutes": "20",
    }
    response = client.post(
        "/plans", data=plan | {"csrf_token": csrf_of(plan_form)}, follow_redirects=False
    )
    assert response.status_code == 303
    _work(worker_site)
    planned = JobResult.find(
        PLAN, worker_site.files_dir, response.headers["location"].rsplit("/", 1)[1]
    )
    assert planned is not None and planned.summary["datasets"] == [supply.reference()]


def test_a_dataset_of_the_wrong_kind_is_a_form_error(worker_site: Site, tmp_path: Path) -> None:
    supply, _ = Catalogue(worker_site.files_dir / "datasets").add(
        _meuse_supply(tmp_path), "supply-csv"
    )
    client = worker_site.logged_in("planner")
    token = csrf_of(client.get("/diagnostics/nouveau").text)
    for field in ("ages", "trajets"):
        response = client.post("/diagnostics", data=MEUSE | {field: supply.id, "csrf_token": token})
        assert response.status_code == 422
        assert "parmi les jeux de données enregistrés" in response.text
    response = client.post("/diagnostics", data=MEUSE | {"offre": "../x", "csrf_token": token})
    assert response.status_code == 422


def test_a_plan_counts_the_registry_sites_as_existing(worker_site: Site) -> None:
    store(
        worker_site,
        registry_site("verdun", "55545", "active"),
        registry_site("commercy", "55122", "suspended"),
        registry_site("ferme", "55029", "inactive"),
    )
    client = worker_site.logged_in("planner")
    token = csrf_of(client.get("/plans/nouveau").text)
    plan = MEUSE | {"methode": "apl", "sites": "2", "objectif": "underserved", "minutes": "20"}
    response = client.post(
        "/plans", data=plan | {"registre": "oui", "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    _work(worker_site)
    job_id = response.headers["location"].rsplit("/", 1)[1]
    result = JobResult.find(PLAN, worker_site.files_dir, job_id)
    assert result is not None
    assert result.summary["existing_sites"] == 2
    features = json.loads((result.directory / "plan.geojson").read_text())["features"]
    existing = {
        f["properties"]["site_id"] for f in features if f["properties"].get("status") == "existant"
    }
    assert existing == {"verdun", "commercy"}
    listed = pd.read_csv(result.directory / "sites.csv")
    assert set(listed.site_id[listed.status.eq("existant")]) == {"verdun", "commercy"}
    page = client.get(f"/plans/{job_id}").text
    assert "<td>Site verdun</td>" not in page  # the table lists only the new sites
