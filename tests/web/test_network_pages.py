"""The network page shows the evaluation indicators of a small seeded network, to analysts only."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from browser_support import fits_a_tablet, log_in, serious_violations, shoot
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from web_site import Site, store

from maillage.french_format import fixed as french_number
from maillage.jobs.diagnosis import DIAGNOSIS
from maillage.jobs.results import MapPanel, write_maps
from maillage.reports import evaluation as ev
from maillage.store.database import transaction
from maillage.territory.communes import load_communes

INSEE = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code"
MODALITY = "urn:maillage:modality"
YEAR = ev.Period(2025, ZoneInfo("Europe/Paris"))


def _address(code: str) -> dict:
    return {"extension": [{"url": INSEE, "valueCoding": {"code": code}}]}


def _site(key: str, name: str, code: str, opened: str, status: str = "active") -> dict:
    return {
        "resourceType": "Location",
        "id": key,
        "name": name,
        "status": status,
        "address": _address(code),
        "extension": [{"url": ev.OPENED_URL, "valueDate": opened}],
    }


def _visit(key: str, site: str, start: str, patient: str, modality: str,
           status: str = "finished") -> dict:  # fmt: skip
    return {
        "resourceType": "Encounter",
        "id": key,
        "status": status,
        "class": {"code": "VR"},
        "serviceType": {"coding": [{"system": MODALITY, "code": modality}]},
        "subject": {"reference": f"Patient/{patient}"},
        "appointment": [{"reference": f"Appointment/{key}"}],
        "period": {"start": start},
        "location": [{"location": {"reference": f"Location/{site}"}}],
    }


def _booking(key: str, created: str, start: str) -> dict:
    return {"resourceType": "Appointment", "id": key, "status": "fulfilled",
            "created": created, "start": start, "participant": []}  # fmt: skip


def _task(key: str, authored: str, answered: str | None) -> dict:
    body = {
        "resourceType": "Task",
        "id": key,
        "status": "completed" if answered else "requested",
        "intent": "order",
        "code": {"coding": [{"system": "urn:maillage:workflow", "code": "tele-expertise"}]},
        "authoredOn": authored,
    }
    return body | ({"executionPeriod": {"end": answered}} if answered else {})


NETWORK = [
    _site("carignan", "Cabine de Carignan", "08090", "2020-01-01"),
    _site("sedan", "EHPAD de Sedan", "08409", "2025-06-01"),
    _site("verdun", "MSP de Verdun", "55545", "2024-01-01"),
    _site("fermé", "Ancien site", "08105", "2023-01-01", status="inactive"),
    {
        "resourceType": "Patient",
        "id": "p1",
        "name": [{"given": ["Jeanne"], "family": "Dupont"}],
        "address": [_address("08090")],
    },
    {"resourceType": "Patient", "id": "p2", "address": [_address("08409")]},
    {"resourceType": "Patient", "id": "p3"},
    _visit("e1", "carignan", "2025-01-10T09:00:00Z", "p1", "teleconsultation-assistee"),
    _visit("e2", "carignan", "2025-01-20T09:00:00Z", "p2", "teleconsultation-suivi"),
    _visit("e3", "carignan", "2025-03-05T09:00:00Z", "p1", "teleconsultation-assistee"),
    _visit("e4", "sedan", "2025-07-01T09:00:00Z", "p3", "teleconsultation-assistee"),
    _visit("e5", "verdun", "2025-05-05T09:00:00Z", "p2", "teleconsultation-assistee"),
    _visit("e6", "carignan", "2025-04-01T09:00:00Z", "p1", "x", status="cancelled"),
    _visit("e7", "carignan", "2024-12-31T23:30:00Z", "p3", "teleconsultation-suivi"),
    _visit("e8", "verdun", "2024-06-03T09:00:00Z", "p2", "teleconsultation-suivi"),
    _booking("e1", "2025-01-07T09:00:00Z", "2025-01-10T09:00:00Z"),
    _booking("e2", "2025-01-19T09:00:00Z", "2025-01-20T09:00:00Z"),
    _booking("e3", "2025-02-26T09:00:00Z", "2025-03-05T09:00:00Z"),
    _booking("e4", "2025-06-30T09:00:00Z", "2025-07-01T09:00:00Z"),
    _task("t1", "2025-02-01T08:00:00Z", "2025-02-02T08:00:00Z"),
    _task("t2", "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z"),
    _task("t3", "2025-04-01T00:00:00Z", None),
]


@pytest.fixture
def site(site_on_each_database: Site) -> Site:
    """This module's page tests run on SQLite and on PostgreSQL."""
    return site_on_each_database


@pytest.fixture
def network(site: Site) -> Site:
    store(site, *NETWORK)
    return site


def diagnosed(site: Site, classes: dict[str, str]) -> None:
    """A finished diagnosis job's files, as the worker leaves them (zoning of two communes)."""
    out = DIAGNOSIS.directory(site.files_dir, uuid.uuid4().hex)
    out.mkdir(parents=True)
    pd.DataFrame({"code_commune": list(classes), "classe": list(classes.values())}).to_csv(
        out / "communes.csv", index=False
    )
    (out / "summary.json").write_text(json.dumps({"area": "Ardennes (08)"}), encoding="utf-8")
    write_maps(out, [MapPanel("Accessibilité par commune", "<svg></svg>", [])])


def indicators(site: Site) -> dict:
    """The evaluation module's figures for 2025 on the site's store."""
    with transaction(site.app.state.sessions) as session:
        loaded = ev.load_network(session)
    departements = load_communes().set_index("code_commune").departement
    return {
        "roadmap": ev.roadmap(loaded.sites, YEAR),
        "activity": ev.activity(loaded, YEAR, departements),
        "delay": ev.appointment_delay(loaded, YEAR),
        "expertise": ev.expertise_response(loaded, YEAR),
        "network": loaded,
    }


def row(html: str, table: str, header: str) -> list[str]:
    """The cells after the row header ``header`` (a link's text counts) of table ``table``."""
    body = re.search(rf'<table id="{table}">(.*?)</table>', html, re.S)
    assert body, f"no table {table!r}"
    head = rf'<th scope="row">(?:<a [^>]*>)?{re.escape(header)}(?:</a>)?</th>'
    match = re.search(rf"{head}(.*?)</tr>", body.group(1))
    assert match, f"no row {header!r} in {table!r}"
    return re.findall(r"<td[^>]*>([^<]*)</td>", match.group(1))


def test_the_page_shows_the_indicators_of_the_year(network: Site) -> None:
    diagnosed(network, {"08090": "sous-dotee", "08409": "dotee"})
    page = network.logged_in("coordinator").get("/reseau", params={"annee": 2025})
    assert page.status_code == 200
    html, expected = page.text, indicators(network)

    roadmap = expected["roadmap"]
    assert (roadmap["open"], roadmap["new"], roadmap["existing"]) == (3, 1, 2)
    assert row(html, "feuille-de-route", "Ouverts") == [str(roadmap["open"])]
    assert row(html, "feuille-de-route", "Nouveaux (ouverts en 2025)") == [str(roadmap["new"])]
    assert row(html, "feuille-de-route", "Existants (ouverts avant 2025)") == [
        str(roadmap["existing"])
    ]
    assert "3 sur un objectif de 200 (1,5 %)" in html

    activity = expected["activity"]
    per_site = activity["per_site"].set_index("name").teleconsultations
    assert per_site.to_dict() == {"Cabine de Carignan": 4, "EHPAD de Sedan": 1,
                                  "MSP de Verdun": 1, "Ancien site": 0}  # fmt: skip
    for name, count in per_site.items():
        assert row(html, "par-site", name)[-1] == str(count)
    assert "6 téléconsultations en 2025." in html
    monthly = activity["monthly"].loc["Cabine de Carignan"].astype(str).tolist()
    assert row(html, "par-mois", "Cabine de Carignan") == monthly
    assert monthly[:3] == ["3", "0", "1"]  # 00:30 on 1 January in Paris counts
    by_departement = dict(activity["by_departement"].to_numpy())
    assert by_departement == {"08": 5, "55": 1}
    assert row(html, "par-departement", "Ardennes (08)") == ["5"]
    assert row(html, "par-departement", "Meuse (55)") == ["1"]
    by_modality = dict(activity["by_modality"].to_numpy())
    assert by_modality == {"teleconsultation-assistee": 4, "teleconsultation-suivi": 2}
    assert row(html, "par-modalite", "Téléconsultation assistée") == ["4"]
    assert row(html, "par-modalite", "Téléconsultation de suivi") == ["2"]

    share = ev.under_served_share(
        expected["network"], YEAR, pd.Series({"08090": "sous-dotee", "08409": "dotee"})
    )
    assert share == {"patients": 3, "under_served": 1, "share": 1 / 3}
    assert "1 des 3 patients téléconsultés en 2025 vivent dans une commune sous-dotée" in html
    assert "soit 33,3 %" in html

    for label, spread in (
        ("Prise de rendez-vous → téléconsultation (jours)", expected["delay"]),
        ("Demande de télé-expertise → réponse (heures)", expected["expertise"]),
    ):
        shown = [str(spread["count"])] + [
            french_number(spread[k], 1) for k in ("median", "mean", "p90")
        ]
        assert row(html, "delais", label) == shown
    assert row(html, "delais", "Demande de télé-expertise → réponse (heures)")[:2] == ["2", "36,0"]
    assert "3 télé-expertises demandées en 2025, dont 1 sans réponse." in html
    assert html.count("<svg") == 2 and 'role="img"' in html


def test_the_year_selector_changes_the_period(network: Site) -> None:
    client = network.logged_in("admin")
    latest = client.get("/reseau").text
    assert '<option value="2025" selected>' in latest and '<option value="2024">' in latest
    before = client.get("/reseau", params={"annee": 2024}).text
    assert "1 téléconsultation en 2024." in before
    assert (
        row(before, "par-site", "MSP de Verdun")[-1] == "1"
        and row(before, "par-site", "Cabine de Carignan")[-1] == "0"
    )
    assert "Aucun diagnostic n'a encore été calculé" in before
    assert client.get("/reseau", params={"annee": "deux-mille"}).status_code == 422


def test_planner_sees_aggregates_and_no_patient(network: Site) -> None:
    client = network.logged_in("planner")
    home = client.get("/").text
    assert '<a href="/reseau"' in home
    page = client.get("/reseau").text
    assert "Cabine de Carignan" in page
    assert "Patient/" not in page and "Dupont" not in page


def download(client: TestClient, name: str, **params: int) -> list[list[str]]:
    """The rows of one of the page's CSV files, after checking it is a UTF-8 attachment."""
    response = client.get(f"/reseau/telecharger/{name}", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    year = params.get("annee", 2025)
    disposition = response.headers["content-disposition"]
    assert disposition == f'attachment; filename="reseau-{name}-{year}.csv"'
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"))))


def test_each_table_of_the_page_downloads_as_csv(network: Site) -> None:
    client = network.logged_in("planner")
    page = client.get("/reseau", params={"annee": 2025}).text
    links = re.findall(r'<a href="(/reseau/telecharger/[^"]+)" download>', page)
    assert len(links) == 6 and "/reseau/telecharger/par-site?annee=2025" in links

    assert download(client, "par-site", annee=2025) == [
        ["site", "nom", "code_commune", "teleconsultations"],
        ["carignan", "Cabine de Carignan", "08090", "4"],
        ["sedan", "EHPAD de Sedan", "08409", "1"],
        ["verdun", "MSP de Verdun", "55545", "1"],
        ["fermé", "Ancien site", "08105", "0"],
    ]
    assert download(client, "par-departement", annee=2025) == [
        ["departement", "nom", "teleconsultations"],
        ["08", "Ardennes", "5"],
        ["55", "Meuse", "1"],
    ]
    monthly = download(client, "par-mois", annee=2025)
    assert monthly[0] == ["nom", *(f"2025-{m:02d}" for m in range(1, 13))]
    carignan = next(r for r in monthly if r[0] == "Cabine de Carignan")
    assert carignan[1:] == row(page, "par-mois", "Cabine de Carignan")
    assert download(client, "par-modalite", annee=2025)[1:] == [
        ["teleconsultation-assistee", "Téléconsultation assistée", "4"],
        ["teleconsultation-suivi", "Téléconsultation de suivi", "2"],
    ]
    assert download(client, "feuille-de-route", annee=2025)[1:] == [
        ["ouverts", "3"], ["nouveaux", "1"], ["existants", "2"], ["objectif", "200"],
        ["objectif_nouveaux", "100"],
    ]  # fmt: skip
    delays = {r[0]: r[1:] for r in download(client, "delais", annee=2025)}
    assert delays["delai"] == ["unite", "mesures", "mediane", "moyenne", "decile_9"]
    assert delays["tele-expertise"][:4] == ["heures", "2", "36", "36"]
    french_excel = client.get(
        "/reseau/telecharger/delais", params={"annee": 2025, "format": "excel-fr"}
    )
    assert french_excel.content.startswith("\ufeff".encode())
    assert "tele-expertise;heures;2;36;36" in french_excel.content.decode("utf-8-sig")


def test_downloads_default_to_the_page_year_and_refuse_unknown_tables(network: Site) -> None:
    client = network.logged_in("coordinator")
    assert download(client, "par-site")[1] == ["carignan", "Cabine de Carignan", "08090", "4"]
    before = download(client, "par-site", annee=2024)
    assert ["verdun", "MSP de Verdun", "55545", "1"] in before
    missing = client.get("/reseau/telecharger/patients")
    assert missing.status_code == 404 and "existe pas" in missing.text
    assert client.get("/reseau/telecharger/par-site", params={"annee": 1}).status_code == 422


@pytest.mark.parametrize("role", ["patient", "site-professional", "practitioner"])
def test_care_roles_do_not_reach_the_network_page(network: Site, role: str) -> None:
    client = network.logged_in(role)
    assert client.get("/reseau").status_code == 403
    assert client.get("/reseau/telecharger/par-site").status_code == 403
    assert '<a href="/reseau"' not in client.get("/").text


def test_downloads_need_an_account(network: Site) -> None:
    response = network.client().get("/reseau/telecharger/par-site", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/connexion")


def test_a_planner_reads_the_network_page_in_the_browser(
    page: Page, live: tuple[Site, str], tmp_path: Path
) -> None:
    site, _url = live
    store(site, *NETWORK)
    log_in(page, site.user("planner"))
    nav = page.get_by_role("navigation", name="Navigation principale")
    nav.get_by_role("link", name="Activité du réseau").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Évaluation du réseau de télémédecine — 2025"
    )
    chart = page.get_by_role("img", name="Graphique : téléconsultations par mois et par site")
    expect(chart).to_be_visible()
    assert serious_violations(page) == []
    shoot(page, tmp_path, "reseau")
    fits_a_tablet(page)
    page.get_by_label("Année", exact=True).select_option("2024")
    page.get_by_role("button", name="Afficher").click()
    expect(page.get_by_text("1 téléconsultation en 2024.")).to_be_visible()
    assert serious_violations(page) == []
