"""Real-format files registered through the datasets page in Chromium, then a diagnosis and a
plan run from the pages on them: the same results as the CLI's on the same files, the datasets
named in ``summary.json``, the registry's sites listed as existing in the plan's ``sites.csv``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from browser_support import JOB_TIMEOUT_MS, fits_a_tablet, log_in, serious_violations, shoot
from playwright.sync_api import Page, expect
from web_site import Site, registry_site, run_cli, store

from maillage.datasets.catalogue import Catalogue
from maillage.jobs.diagnosis import DIAGNOSIS
from maillage.jobs.plan import PLAN
from maillage.jobs.results import JobResult

DATA = Path(__file__).parents[1] / "territory" / "data"
ANNUAIRE = DATA / "PS_LibreAcces_Personne_activite_sample.txt"
AGES = DATA / "base-cc-evol-struct-pop-sample.csv"
#: Bas-Rhin communes of the Annuaire extract (Strasbourg, Barr, Haguenau) and two more.
COMMUNES = ["67482", "67021", "67180", "67218", "67437"]


def _matrix(folder: Path) -> Path:
    """A travel matrix as r5py writes it, between a few Bas-Rhin communes."""
    path = folder / "temps-bas-rhin.csv"
    pairs = [
        (o, d, 4.0 + 3 * i + j) for i, o in enumerate(COMMUNES) for j, d in enumerate(COMMUNES)
    ]
    rows = "".join(f"{o},{d},{m}\n" for o, d, m in pairs if o != d)
    path.write_text("from_id,to_id,travel_time\n" + rows, encoding="utf-8")
    return path


def _register(page: Page, path: Path, kind: str, label: str, day: str = "") -> None:
    page.get_by_label("Type", exact=True).select_option(kind)
    page.get_by_label("Fichier", exact=True).set_input_files(path)
    page.get_by_label("Libellé (facultatif)").fill(label)
    page.get_by_label("Date des données").fill(day)
    page.get_by_role("button", name="Envoyer et valider").click()
    expect(page.locator("#resultat")).to_contain_text("Jeu de données enregistré", timeout=60_000)
    expect(page.locator("#barre-envoi")).to_have_attribute("value", "100")


def _job_result(page: Page, kind: str, site: Site) -> JobResult:
    found = JobResult.find(kind, site.files_dir, page.url.rsplit("/", 1)[1])
    assert found is not None
    return found


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"code_commune": str, "site_id": str})


def test_register_datasets_then_run_a_diagnosis_and_a_plan(
    page: Page, live: tuple[Site, str], tmp_path: Path
) -> None:
    site, _url = live
    log_in(page, site.user("admin"))
    nav = page.get_by_role("navigation", name="Navigation principale")
    nav.get_by_role("link", name="Jeux de données").click()
    expect(page.get_by_role("heading", name="Jeux de données", exact=True)).to_be_visible()
    bad = tmp_path / "temps-faux.csv"
    bad.write_text("from_id,to_id,travel_time\n67482,67021,8\n67482,67180,vingt\n")
    page.get_by_label("Type", exact=True).select_option("matrix")
    page.get_by_label("Fichier", exact=True).set_input_files(bad)
    page.get_by_role("button", name="Envoyer et valider").click()
    expect(page.get_by_role("alert")).to_contain_text("temps-faux.csv, ligne 3, colonne")
    expect(page.get_by_role("alert")).to_contain_text("Rien n'a été enregistré")
    shoot(page, tmp_path, "jeu-refuse")

    _register(page, ANNUAIRE, "annuaire", "Annuaire Santé, extrait", "2024-07-01")
    _register(page, AGES, "ages", "Population par âge 2021")
    _register(page, _matrix(tmp_path), "matrix", "Temps r5py Bas-Rhin")
    page.reload()
    datasets = {d.kind: d for d in Catalogue(site.files_dir / "datasets").list()}
    assert sorted(datasets) == ["ages", "annuaire", "matrix"]
    table = page.get_by_role("table", name="3 jeux de données enregistrés")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table).to_contain_text("adresse à l'étranger")
    expect(table).to_contain_text("01/07/2024")
    expect(page.get_by_text("au plus 2 Gio")).to_be_visible()
    assert serious_violations(page) == []
    shoot(page, tmp_path, "jeux-de-donnees")
    fits_a_tablet(page)
    assert not list((site.files_dir / "datasets" / "objects").glob(".*"))  # no upload left
    table.get_by_role("link", name="Annuaire Santé, extrait").click()
    expect(page.get_by_role("table", name="Lignes que le chargeur")).to_contain_text("écartées")
    expect(page.locator("#manifeste")).to_contain_text(datasets["annuaire"].sha256)
    assert serious_violations(page) == []
    shoot(page, tmp_path, "jeu-de-donnees")
    fits_a_tablet(page)

    chosen = {
        "Offre de soins": datasets["annuaire"].id,
        "Structure par âge": datasets["ages"].id,
        "Temps de trajet": datasets["matrix"].id,
    }
    nav.get_by_role("link", name="Lancer un diagnostic").click()
    page.get_by_label("Territoire").select_option("departement:67")
    page.get_by_label("Méthode").select_option("e2sfca")
    for label, dataset_id in chosen.items():
        page.get_by_label(label).select_option(dataset_id)
    page.get_by_role("button", name="Lancer le diagnostic").click()
    heading = page.get_by_role("heading", name="Accès aux soins — Bas-Rhin (67)")
    expect(heading).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(page.get_by_text("SYNTHÉTIQUE —")).to_have_count(0)
    diagnosis = _job_result(page, DIAGNOSIS, site)
    options = [
        "--supply", f"dataset:{datasets['annuaire'].id}",
        "--ages", f"dataset:{datasets['ages'].id}",
        "--travel", f"dataset:{datasets['matrix'].id}",
    ]  # fmt: skip
    cli = tmp_path / "cli-diagnostic"
    run_cli(site, "diagnose", "--department", "67", "--method", "e2sfca", *options,
            "--out", str(cli))  # fmt: skip
    from_page = _csv(diagnosis.directory / "communes.csv")
    pd.testing.assert_frame_equal(from_page, _csv(cli / "communes.csv"))
    assert from_page.supply.sum() > 0
    named = [d["id"] for d in diagnosis.summary["datasets"]]
    assert sorted(named) == sorted(d.id for d in datasets.values())

    store(
        site,
        registry_site("strasbourg", "67482", "active"),
        registry_site("haguenau", "67180", "suspended"),
        registry_site("ferme", "67021", "inactive"),
    )
    nav.get_by_role("link", name="Planifier des sites").click()
    page.get_by_label("Territoire").select_option("departement:67")
    page.get_by_label("Méthode").select_option("e2sfca")
    for label, dataset_id in chosen.items():
        page.get_by_label(label).select_option(dataset_id)
    page.get_by_label("Nombre de nouveaux sites").fill("2")
    page.get_by_label("Objectif").select_option("coverage")
    page.get_by_label(
        "Compter les sites ouverts et prévus du registre comme sites existants"
    ).check()
    page.get_by_role("button", name="Lancer la planification").click()
    heading = page.get_by_role("heading", name="Plan de 2 sites — Bas-Rhin (67)")
    expect(heading).to_be_visible(timeout=JOB_TIMEOUT_MS)
    plan = _job_result(page, PLAN, site)
    listed = _csv(plan.directory / "sites.csv")
    assert set(listed.site_id[listed.status.eq("existant")]) == {"strasbourg", "haguenau"}
    assert sorted(d["id"] for d in plan.summary["datasets"]) == sorted(named)
    cli = tmp_path / "cli-plan"
    run_cli(site, "plan", "--department", "67", "--method", "e2sfca", *options,
            "--sites", "2", "--objective", "coverage", "--minutes", "10",
            "--existing", "registry", "--out", str(cli))  # fmt: skip
    pd.testing.assert_frame_equal(listed, _csv(cli / "sites.csv"))
    summary = json.loads((cli / "summary.json").read_text(encoding="utf-8"))
    assert summary["existing_sites"] == plan.summary["existing_sites"] == 2
