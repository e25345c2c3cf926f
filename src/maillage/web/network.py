"""The network's evaluation page: roadmap progress, activity, access and response times.

It shows the indicators of ``maillage report`` (:mod:`maillage.reports.evaluation`) for one
year, computed from the operational store at each view, with the report's own charts. Only
aggregates leave the server, so planners see it too. The share of patients in under-served
communes needs zoning classes: they come from the latest finished diagnosis job rather than a
diagnosis run inside the request (too long for a web request). Each of the page's tables is
also offered as a CSV file, computed the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from maillage import french_format
from maillage.care.principal import Principal
from maillage.care.projects import REQUEST_LABELS, STAGE_LABELS
from maillage.care.repository import Repository
from maillage.care.site_import import MODALITIES
from maillage.jobs.diagnosis import DIAGNOSIS
from maillage.jobs.results import JobResult
from maillage.reports import evaluation
from maillage.reports.report import Evaluation, charts, latest_year
from maillage.tabular import csv_dialect
from maillage.territory.communes import load_communes
from maillage.territory.geography import departements
from maillage.web import jobs, records
from maillage.web.jobs import FilesDir
from maillage.web.navigation import ANALYSTS
from maillage.web.records import PageRepo
from maillage.web.rendering import PageError, allowed, render

router = APIRouter(include_in_schema=False)
Analyst = Annotated[Principal, Depends(allowed(ANALYSTS))]


def zoning_classes(diagnosis: JobResult) -> pd.Series:
    """Zoning class per commune code, from a diagnosis job's ``communes.csv``."""
    table = pd.read_csv(
        diagnosis.directory / "communes.csv",
        usecols=["code_commune", "classe"],
        dtype={"code_commune": str, "classe": str},
    )
    return table.set_index("code_commune").classe


def activity_charts(year: int, activity: dict[str, pd.DataFrame]) -> dict[str, Markup]:
    """The report's SVG charts (monthly activity by site, year per site).

    They read only the period and the activity, so the report's other parts stay empty here.
    """
    shown = Evaluation(
        area="",
        period=year,
        synthetic=False,
        roadmap={},
        activity=activity,
        under_served={},
        delay={},
        expertise={},
        supply=pd.DataFrame(),
        access=pd.DataFrame(),
        simulation={},
        flags={},
        projects={},
    )
    return charts(shown)


def _years(network: evaluation.Network, zone: ZoneInfo, year: int) -> list[int]:
    """Years with at least one teleconsultation, and the one shown, newest first."""
    starts = network.teleconsultations.start.dropna().dt.tz_convert(zone)
    return sorted({*starts.dt.year.astype(int).tolist(), year}, reverse=True)


def indicators(repository: Repository, files: Path, annee: int | None) -> dict[str, Any]:
    """The year's evaluation indicators (default: the year of the latest teleconsultation)."""
    zone = repository.settings.zone
    with records.refusals():
        network = repository.aggregate(evaluation.load_network)
        projects = repository.aggregate(evaluation.load_projects)
    year = annee or latest_year(network, zone)
    period = evaluation.Period(year, zone)
    of_commune = load_communes().set_index("code_commune").departement
    diagnosis = JobResult.latest(DIAGNOSIS, files)
    return {
        "annee": year,
        "annees": _years(network, zone, year),
        "feuille_de_route": evaluation.roadmap(
            network.sites, period, evaluation.Targets.of(repository.settings)
        ),
        "projets": evaluation.project_summary(projects),
        "activite": evaluation.activity(network, period, of_commune),
        "diagnostic": diagnosis.summary if diagnosis else None,
        "patients": (
            evaluation.under_served_share(network, period, zoning_classes(diagnosis))
            if diagnosis
            else None
        ),
        "delai": evaluation.appointment_delay(network, period),
        "expertise": evaluation.expertise_response(network, period),
        "synthetique": bool(network.sites.synthetic.any()),
    }


@router.get("/reseau", response_class=HTMLResponse)
def network_page(
    request: Request,
    _principal: Analyst,
    repository: PageRepo,
    files: FilesDir,
    annee: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> HTMLResponse:
    """The year's evaluation indicators, with their charts and the CSV downloads."""
    context = indicators(repository, files, annee)
    context |= {
        "mois": french_format.month_abbreviations(),
        "modalites": MODALITIES,
        "departements": departements().set_index("code").nom.to_dict(),
        "graphiques": activity_charts(context["annee"], context["activite"]),
        "telechargements": {name: label for name, (label, _table) in TABLES.items()},
        "etapes": STAGE_LABELS,
        "statuts_demandes": REQUEST_LABELS,
    }
    return render(request, "reseau.html", context)


def _roadmap_table(shown: dict[str, Any]) -> pd.DataFrame:
    roadmap = shown["feuille_de_route"]
    keys = {"open": "ouverts", "new": "nouveaux", "existing": "existants", "target": "objectif",
            "target_new": "objectif_nouveaux"}  # fmt: skip
    return pd.DataFrame({"sites": list(keys.values()), "nombre": [roadmap[k] for k in keys]})


def _monthly_table(shown: dict[str, Any]) -> pd.DataFrame:
    monthly = shown["activite"]["monthly"]
    named = monthly.rename(columns=lambda month: f"{shown['annee']}-{month:02d}")
    return named.rename_axis("nom").reset_index()


def _site_table(shown: dict[str, Any]) -> pd.DataFrame:
    return shown["activite"]["per_site"].rename(columns={"name": "nom"})


def _departement_table(shown: dict[str, Any]) -> pd.DataFrame:
    counts = shown["activite"]["by_departement"]
    names = departements().set_index("code").nom.reindex(counts.departement).to_numpy()
    return counts.assign(nom=names)[["departement", "nom", "teleconsultations"]]


def _modality_table(shown: dict[str, Any]) -> pd.DataFrame:
    counts = shown["activite"]["by_modality"].rename(columns={"modality": "modalite"})
    labels = counts.modalite.map(MODALITIES).fillna(counts.modalite)
    return counts.assign(libelle=labels)[["modalite", "libelle", "teleconsultations"]]


def _delay_table(shown: dict[str, Any]) -> pd.DataFrame:
    spreads = pd.DataFrame(
        [shown["delai"], shown["expertise"]], index=pd.Index(["rendez-vous", "tele-expertise"])
    )
    columns = {"unit": "unite", "count": "mesures", "median": "mediane", "mean": "moyenne",
               "p90": "decile_9"}  # fmt: skip
    return spreads[list(columns)].rename(columns=columns).rename_axis("delai").reset_index()


#: The page's tables offered as CSV (machine-readable columns, same figures as the page):
#: file name part → (link text, table from :func:`indicators`).
TABLES: dict[str, tuple[str, Callable[[dict[str, Any]], pd.DataFrame]]] = {
    "feuille-de-route": ("Feuille de route", _roadmap_table),
    "par-mois": ("Téléconsultations par site et par mois", _monthly_table),
    "par-site": ("Téléconsultations par site", _site_table),
    "par-departement": ("Téléconsultations par département", _departement_table),
    "par-modalite": ("Téléconsultations par modalité", _modality_table),
    "delais": ("Délais", _delay_table),
}


@router.get("/reseau/telecharger/{name}")
def network_download(
    request: Request,
    name: str,
    _principal: Analyst,
    repository: PageRepo,
    files: FilesDir,
    annee: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    format: Annotated[str, Query(pattern="^(standard|excel-fr)$")] = "standard",
) -> Response:
    """One of the page's tables for the year, as a CSV file (same figures as the page), in
    the standard dialect or French Excel's (``?format=excel-fr``)."""
    if name not in TABLES:
        raise PageError(404, "Ce fichier n'existe pas.")
    shown = indicators(repository, files, annee)
    return jobs.csv_attachment(
        TABLES[name][1](shown), f"reseau-{name}-{shown['annee']}.csv", csv_dialect(format)
    )
