"""Evaluation indicators against hand counts of a small network, and the report end to end."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from maillage.config import Settings
from maillage.demo.seed import seed
from maillage.diagnosis.parameters import DiagnosisParameters
from maillage.reports import commands
from maillage.reports import evaluation as ev
from maillage.reports.report import evaluate, write_report
from maillage.store import resources
from maillage.store.database import make_engine, session_factory, transaction, upgrade
from maillage.territory.communes import load_communes

INSEE = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code"
MODALITY = "urn:maillage:modality"
PPRF = {"coding": [{"code": "PPRF"}]}
YEAR = ev.Period(2025, ZoneInfo("Europe/Paris"))


def _address(code: str) -> dict:
    return {"extension": [{"url": INSEE, "valueCoding": {"code": code}}]}


def _site(key: str, code: str, opened: str, status: str = "active") -> dict:
    return {
        "resourceType": "Location",
        "id": key,
        "name": key,
        "status": status,
        "address": _address(code),
        "extension": [{"url": ev.OPENED_URL, "valueDate": opened}],
    }


def _visit(key: str, site: str, start: str, doctor: str, patient: str, modality: str,
           status: str = "finished", kind: str = "VR", act: str = "TCG") -> dict:  # fmt: skip
    return {
        "resourceType": "Encounter",
        "id": key,
        "status": status,
        "class": {"code": kind},
        "serviceType": {"coding": [{"system": MODALITY, "code": modality}]},
        "subject": {"reference": f"Patient/{patient}"},
        "participant": [
            {"individual": {"reference": "Practitioner/nurse"}},
            {"type": [PPRF], "individual": {"reference": f"Practitioner/{doctor}"}},
        ],
        "appointment": [{"reference": f"Appointment/{key}"}],
        "period": {"start": start},
        "location": [{"location": {"reference": f"Location/{site}"}}],
        "extension": [{"url": "urn:maillage:act-code", "valueCoding": {"code": act}}],
    }


def _booking(key: str, created: str, start: str) -> dict:
    return {"resourceType": "Appointment", "id": key, "status": "fulfilled",
            "created": created, "start": start, "participant": []}  # fmt: skip


def _task(key: str, authored: str, answered: str | None, code: str = "tele-expertise") -> dict:
    body = {
        "resourceType": "Task",
        "id": key,
        "status": "completed" if answered else "requested",
        "intent": "order",
        "code": {"coding": [{"system": "urn:maillage:workflow", "code": code}]},
        "authoredOn": authored,
    }
    return body | ({"executionPeriod": {"end": answered}} if answered else {})


NETWORK = [
    _site("A", "08090", "2020-01-01"),
    _site("B", "08490", "2025-06-01"),
    _site("C", "55502", "2024-01-01"),
    _site("D", "08367", "2023-01-01", status="inactive"),
    _site("E", "08105", "2026-02-01"),
    {"resourceType": "Practitioner", "id": "near", "address": [_address("08105")]},
    {"resourceType": "Practitioner", "id": "far", "address": [_address("31555")]},
    {"resourceType": "Practitioner", "id": "nurse"},
    {"resourceType": "Patient", "id": "p1", "address": [_address("08090")]},
    {"resourceType": "Patient", "id": "p2", "address": [_address("08490")]},
    {"resourceType": "Patient", "id": "p3"},
    _visit("e1", "A", "2025-01-10T09:00:00Z", "far", "p1", "teleconsultation-assistee"),
    _visit("e2", "A", "2025-01-20T09:00:00Z", "near", "p2", "teleconsultation-suivi"),
    _visit("e3", "A", "2025-03-05T09:00:00Z", "far", "p1", "teleconsultation-assistee"),
    _visit("e4", "B", "2025-07-01T09:00:00Z", "near", "p3", "teleconsultation-assistee"),
    _visit("e9", "A", "2025-12-01T09:00:00Z", "far", "p2", "teleconsultation-suivi", act="TC"),
    _visit("e5", "A", "2025-04-01T09:00:00Z", "far", "p1", "x", status="cancelled"),
    _visit("e6", "A", "2025-04-02T09:00:00Z", "far", "p1", "x", kind="AMB"),
    _visit("e7", "A", "2024-12-31T10:00:00Z", "far", "p1", "teleconsultation-assistee"),
    _visit("e10", "A", "2024-12-31T23:30:00Z", "near", "p3", "teleconsultation-suivi"),
    _visit("e8", "C", "2025-05-05T09:00:00Z", "far", "p2", "teleconsultation-assistee"),
    _booking("e1", "2025-01-07T09:00:00Z", "2025-01-10T09:00:00Z"),
    _booking("e2", "2025-01-19T09:00:00Z", "2025-01-20T09:00:00Z"),
    _booking("e3", "2025-02-26T09:00:00Z", "2025-03-05T09:00:00Z"),
    _booking("e4", "2025-06-30T09:00:00Z", "2025-07-01T09:00:00Z"),
    _task("t1", "2025-02-01T08:00:00Z", "2025-02-02T08:00:00Z"),
    _task("t2", "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z"),
    _task("t3", "2025-04-01T00:00:00Z", None),
    _task("t4", "2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z"),
    _task("t5", "2025-05-01T00:00:00Z", "2025-05-02T00:00:00Z", code="other"),
]


@pytest.fixture(scope="module")
def communes() -> pd.DataFrame:
    return load_communes()


@pytest.fixture
def network(database_url: str, communes: pd.DataFrame) -> ev.Network:
    settings = Settings(database_url=database_url)
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        for body in NETWORK:
            resources.save(session, body, settings.zone, resource_id=body["id"])
    with sessions() as session:
        loaded = ev.load_network(session)
    return ev.in_area(loaded, set(communes.code_commune[communes.departement == "08"]))


def test_roadmap_counts_open_new_and_existing_sites(network: ev.Network) -> None:
    assert ev.roadmap(network.sites, YEAR) == {
        "target": 200,
        "open": 2,
        "new": 1,
        "existing": 1,
        "progress": 0.01,
        "target_new": 100,
        "progress_new": 0.01,
    }
    assert ev.roadmap(network.sites, YEAR, ev.Targets(sites=4, new_sites=2))["progress_new"] == 0.5


def test_project_summary_counts_stages_funders_trainees_and_requests() -> None:
    def project(stages: list[str], funding: list[tuple[str, float]], trained: int) -> dict:
        return {
            "stages": [{"stage": s, "date": "2025-01-01"} for s in stages],
            "funding": [{"funder": f, "amount_euros": a} for f, a in funding],
            "trained": [{"name": "X", "trained": "2025-01-01"}] * trained,
            "support_requests": [{"status": "open"}, {"status": "closed"}][: trained % 3],
        }

    summary = ev.project_summary(
        [
            project(["identified", "funded"], [("ARS", 1000.0), ("FEDER", 250.5)], 2),
            project(["identified"], [("ARS", 500.0)], 1),
            project([], [], 0),
        ]
    )
    assert summary["projects"] == 3 and summary["unstaged"] == 1
    assert summary["by_stage"]["identified"] == 1 and summary["by_stage"]["funded"] == 1
    assert sum(summary["by_stage"].values()) == 2
    assert summary["funding"] == {"ARS": 1500.0, "FEDER": 250.5}
    assert summary["funding_total"] == 1750.5 and summary["trained"] == 3
    assert summary["hotline"] == {"open": 2, "answered": 0, "closed": 1}
    assert ev.project_summary([])["funding"] == {}


def test_activity_counts_finished_teleconsultations_of_the_year(
    network: ev.Network, communes: pd.DataFrame
) -> None:
    result = ev.activity(network, YEAR, communes.set_index("code_commune").departement)
    per_site = result["per_site"].set_index("name").teleconsultations
    assert per_site.to_dict() == {"A": 5, "B": 1, "D": 0, "E": 0}
    assert result["monthly"].loc["A", [1, 3, 12]].tolist() == [3, 1, 1]
    assert result["monthly"].to_numpy().sum() == 6
    modality = result["by_modality"].set_index("modality").teleconsultations.to_dict()
    assert modality == {"teleconsultation-assistee": 3, "teleconsultation-suivi": 3}
    assert result["by_departement"].to_dict(orient="records") == [
        {"departement": "08", "teleconsultations": 6}
    ]


def test_patients_delays_and_expertise(network: ev.Network) -> None:
    classes = pd.Series({"08090": "sous-dotee", "08490": "dotee"})
    share = ev.under_served_share(network, YEAR, classes)
    assert share == {"patients": 3, "under_served": 1, "share": 1 / 3}
    delay = ev.appointment_delay(network, YEAR)
    assert (delay["count"], delay["median"], delay["mean"]) == (4, 2.0, 3.0)
    expertise = ev.expertise_response(network, YEAR)
    assert (expertise["requests"], expertise["unanswered"]) == (3, 1)
    assert (expertise["count"], expertise["median"]) == (2, 36.0)


def test_doctors_already_in_the_gp_supply_are_not_counted_twice(
    network: ev.Network, communes: pd.DataFrame
) -> None:
    area = set(communes.code_commune[communes.departement == "08"])
    supply = ev.telemedicine_supply(network, YEAR, communes, area, ev.supply_reach_km(20))
    counts = supply.set_index("name")[["teleconsultations", "counted"]]
    assert counts.to_dict(orient="index") == {
        "A": {"teleconsultations": 5, "counted": 2},
        "B": {"teleconsultations": 1, "counted": 0},
    }


def test_report_on_the_seeded_demo(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'demo.sqlite'}")
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    sessions = session_factory(engine)
    seed(sessions, settings, tmp_path / "accounts.txt", scale=0.02)
    with sessions() as session:
        result = evaluate(session, DiagnosisParameters(department="08"), None, settings.zone)
        encounters = ev.load_network(session).teleconsultations
    out = tmp_path / "report"
    write_report(result, out)

    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    page = (out / "report.html").read_text()
    assert "SYNTHETIC" in page and "SIMULATION" in page and 'lang="fr"' in page
    for shown in (
        "sites ouverts sur un objectif de 200",
        "Activité par mois et par site",
        "Réponse aux télé-expertises",
        "<figcaption>Accès mesuré (sans télémédecine)</figcaption>",
        "<figcaption>SIMULATION : gain d&#39;accès par commune</figcaption>",
    ):
        assert shown in page, shown
    assert page.count('aria-label="Ardennes (08)"') == 3  # the three access maps, titled
    assert page.count("<svg") >= 3 + 2  # and the two activity charts
    indicators = pd.read_csv(out / "indicators.csv", dtype={"valeur": str})
    assert set(indicators.donnees) == {"SYNTHETIC"}
    document = json.loads((out / "indicators.json").read_text())
    # the demo's year of activity ends yesterday: the report opens on the current year
    assert "SYNTHETIC" in document["label"] and result.period == date.today().year
    by_site = indicators[indicators.perimetre.str.startswith("site ")]
    in_year = encounters[encounters.start.dt.year == result.period]
    assert by_site.valeur.astype(int).sum() == in_year.site.isin(result.supply.site).sum() > 0
    access = pd.read_csv(out / "access_simulation.csv", dtype={"code_commune": str})
    assert (access.access_after >= access.access_before - 1e-12).all()
    assert (access.simulation == "SIMULATION").all()
    assert result.simulation["counted_as_supply"] < result.simulation["teleconsultations"]


@pytest.fixture
def report_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    """``maillage report`` alone, on an empty network database."""
    monkeypatch.setenv("MAILLAGE_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite'}")
    app = typer.Typer()
    app.callback()(lambda: None)
    commands.register(app)
    return app


def test_report_command_on_an_empty_network(tmp_path: Path, report_cli: typer.Typer) -> None:
    out = tmp_path / "report"
    args = ["report", "--department", "08", "--period", "2025", "--out", str(out)]
    result = CliRunner().invoke(report_cli, args)
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC" in result.output
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    assert "Aucune téléconsultation" in (out / "report.html").read_text()
    indicators = pd.read_csv(out / "indicators.csv").set_index("indicateur")
    assert indicators.at["sites_ouverts", "valeur"] == 0


def test_report_command_names_a_bad_area_or_supply(tmp_path: Path, report_cli: typer.Typer) -> None:
    out = tmp_path / "report"
    for args, said in (
        (["--region", "Atlantide"], "erreur : région inconnue 'Atlantide'"),
        (["--supply", str(tmp_path / "none.csv")], "none.csv"),
    ):
        result = CliRunner().invoke(report_cli, ["report", *args, "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert said in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not out.exists()
